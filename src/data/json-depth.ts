/**
 * A bound on how deeply a dataset's JSON may nest. A training record needs two or three levels ({"messages":
 * [{"role", "content"}]}); a file nested 100,000 levels deep is either broken or hostile, and recursive code that
 * meets it (a browser's JSON.parse, structuredClone, JSON.stringify) dies with "Maximum call stack size exceeded"
 * instead of saying what is wrong. So every JSON text is measured before it is parsed.
 */

export const MAX_JSON_DEPTH = 1000;

/**
 * The offset of the first `[` or `{` (outside strings) that opens a level deeper than `limit`, or null when the
 * text stays within it. One pass, no recursion; the text need not be valid JSON (JSON.parse reports that).
 */
export function jsonTooDeepAt(text: string, limit = MAX_JSON_DEPTH): number | null {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: the next quote not escaped by an odd number of backslashes.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return null; // unterminated: JSON.parse will say so
        let k = q - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return null;
}

/** The message for JSON nested too deeply; the caller says where (file, line, column). */
export function tooDeepMessage(limit = MAX_JSON_DEPTH): string {
  return `JSON nested more than ${limit} levels deep; a dataset record needs only a few levels ({"messages": [{"role", "content"}]} is three), so the file is broken or not a dataset`;
}
