/**
 * Where a JSON text first breaks the grammar (RFC 8259), as a character offset, or null when it is valid. Used only
 * after JSON.parse has failed, to point at a line and column, since JSON.parse's messages do not always say.
 */
export function jsonErrorOffset(text: string): number | null {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(readonly at: number) {}
  }
  const fail = (at = i): never => {
    throw new Stop(at);
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) if (text[i + k] !== word[k]) fail(i + k);
    i += word.length;
  };
  const string = () => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail(i + 1);
        }
      } else {
        i++;
      }
    }
    fail();
  };
  const digits = () => {
    const s = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') i++;
    if (i === s) fail();
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  // A loop with an explicit stack rather than recursion, so a text nested 100,000 levels deep is walked like any
  // other instead of overflowing the call stack.
  const ARRAY = 0;
  const OBJECT = 1;
  const open: number[] = [];
  const key = () => {
    ws();
    if (text[i] !== '"') fail();
    string();
    ws();
    if (text[i] !== ':') fail();
    i++;
  };
  const value = (): void => {
    for (;;) {
      // A value starts here.
      ws();
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        ws();
        if (text[i] !== (c === '{' ? '}' : ']')) {
          open.push(c === '{' ? OBJECT : ARRAY);
          if (c === '{') key();
          continue;
        }
        i++;
      } else if (c === '"') string();
      else if (c === '-' || (c >= '0' && c <= '9')) number();
      else if (c === 't') literal('true');
      else if (c === 'f') literal('false');
      else if (c === 'n') literal('null');
      else fail();
      // A value ended: close the containers it completes, or go on to the next element or member.
      for (;;) {
        if (open.length === 0) return;
        ws();
        const top = open[open.length - 1];
        if (text[i] === ',') {
          i++;
          if (top === OBJECT) key();
          break;
        }
        if (text[i] === (top === OBJECT ? '}' : ']')) {
          i++;
          open.pop();
          continue;
        }
        fail();
      }
    }
  };
  try {
    value();
    ws();
    if (i < n) fail();
    return null;
  } catch (e) {
    if (e instanceof Stop) return Math.min(e.at, n);
    throw e;
  }
}
