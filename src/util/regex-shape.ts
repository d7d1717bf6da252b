/**
 * The shape of a JavaScript regex that decides whether matching can backtrack catastrophically, for patterns that
 * come from files and users: tokenizer.json's Split/Replace patterns (src/model-io/tokenizer-patterns.ts) and PEFT's
 * module-name regexes (src/peft/python-regex.ts). JavaScript cannot stop a running regex, so such patterns are
 * refused before they run.
 */
import safeRegex from 'safe-regex2';

/**
 * Whether a quantifier sits inside a quantified group (star height above 1, as in `(a*)*` or `(a+)+`), the classic
 * exponential case, by safe-regex2. `quantifierLimit` also refuses patterns with more quantifiers than that in all.
 * safe-regex2's parser does not know lookbehind; for nesting it is a group like any other, so it is read as one.
 */
export function nestedRepetition(source: string, quantifierLimit = Infinity): boolean {
  return !safeRegex(source.replace(/\(\?<([=!])/g, '(?$1'), { limit: quantifierLimit });
}

/**
 * The repetitions of a JavaScript pattern that matter for backtracking: how many can run across a dot, and the
 * first repeated group that holds alternatives (null when none). Counts `*`, `+`, `{n,}` and `{n,m}` with m − n > 10.
 */
export function repetitionsOf(src: string): { wide: number; repeatedAlternation: string | null } {
  let wide = 0;
  let repeatedAlternation: string | null = null;
  const groups: { start: number; alternatives: boolean }[] = [];
  // What the next quantifier applies to: its text and whether it can run across a dot.
  let atom: { text: string; wide: boolean; alternatives: boolean } | null = null;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    let unbounded = false;
    if (ch === '\\') {
      const next = src[i + 1] ?? '';
      atom = { text: ch + next, wide: next === 'S' || next === 'D' || next === 'W', alternatives: false };
      i++;
      continue;
    }
    if (ch === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      // A "]" right here closes an empty class ("[]", "[^]"): the translation escaped Python's literal "]".
      while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
      const text = src.slice(i, j + 1);
      // A negated class that does not exclude "." can run across dots; so can [\s\S] and the like.
      const negatedWithoutDot = text.startsWith('[^') && !/^\[\^[^\]]*\./.test(text);
      atom = { text, wide: negatedWithoutDot || /\\[SDW]/.test(text), alternatives: false };
      i = j;
      continue;
    }
    if (ch === '(') {
      groups.push({ start: i, alternatives: false });
      atom = null;
      continue;
    }
    if (ch === '|') {
      if (groups.length > 0) groups[groups.length - 1].alternatives = true;
      atom = null;
      continue;
    }
    if (ch === ')') {
      const g = groups.pop();
      const text = src.slice(g?.start ?? 0, i + 1);
      atom = { text, wide: true, alternatives: g?.alternatives ?? false };
      continue;
    }
    if (ch === '*' || ch === '+') unbounded = true;
    else if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i, i + 24));
      if (m) {
        unbounded = m[2] !== undefined && (m[3] === '' || Number(m[3]) - Number(m[1]) > 10);
        i += m[0].length - 1;
      } else atom = { text: ch, wide: false, alternatives: false };
    } else if (ch === '?') {
      // a bounded quantifier, a lazy marker, or the "(?" of a group: none of them counts
    } else {
      atom = { text: ch, wide: ch === '.', alternatives: false };
      continue;
    }
    if (unbounded && atom) {
      if (atom.wide) wide++;
      if (atom.alternatives && repeatedAlternation === null) repeatedAlternation = atom.text + ch;
      atom = null; // a second quantifier right after is a lazy marker or a syntax error
    }
  }
  return { wide, repeatedAlternation };
}

