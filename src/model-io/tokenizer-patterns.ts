/**
 * Checks of the regular expressions a tokenizer.json carries (Split and Replace patterns of normalizers,
 * pre-tokenizers and decoders). @xenova/transformers compiles them lazily, so an invalid one would only fail at
 * the first `encode`, and one that backtracks catastrophically would freeze the page or the CLI there. Both are
 * refused here, at load, with the field's path.
 */
import { nestedRepetition, repetitionsOf } from '../util/regex-shape';
import { tokenizerJsonError as fail } from './tokenizer-error';

// @xenova/transformers 2.17.2 rewrites patterns before compiling them (createPattern in tokenizers.js): Python
// accepts escapes like `\#` that the 'u' flag refuses, and one case-insensitive group common in Llama-3/Qwen2
// tokenizers is spelled out. The check must see the same source the library will compile.
const PROBLEMATIC_REGEX_MAP: [string, string][] = [
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))"],
];

/** The regex source @xenova/transformers compiles (with flags 'gu') for a `{"Regex": source}` pattern. */
export function librarySource(regex: string): string {
  let s = regex.replace(/\\([#&~])/g, '$1');
  for (const [from, to] of PROBLEMATIC_REGEX_MAP) s = s.replaceAll(from, to);
  return s;
}

// safe-regex2 also refuses patterns with more than `limit` quantifiers in all (polynomial backtracking grows with
// their number). Real pre-tokenizer patterns have ≤ 15 (GPT-2 6, Llama-3 10); 40 leaves room for longer ones.
const QUANTIFIER_LIMIT = 40;


/**
 * Checks a pattern object, `{"Regex": source}` or `{"String": text}`, at `path` (e.g. "pre_tokenizer.pattern").
 * A String pattern is escaped by the library, so only its type is checked.
 */
export function checkPattern(pattern: unknown, path: string): void {
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern)) {
    fail(path, 'expected an object {"Regex": "…"} or {"String": "…"}');
  }
  const p = pattern as Record<string, unknown>;
  if (p.Regex !== undefined) {
    if (typeof p.Regex !== 'string') fail(`${path}.Regex`, `expected a string, got ${JSON.stringify(p.Regex)}`);
    checkRegex(p.Regex, `${path}.Regex`);
  } else if (p.String !== undefined) {
    if (typeof p.String !== 'string') fail(`${path}.String`, `expected a string, got ${JSON.stringify(p.String)}`);
  } else {
    fail(path, 'expected an object {"Regex": "…"} or {"String": "…"}');
  }
}

function checkRegex(regex: string, path: string): void {
  const source = librarySource(regex);
  const shown = regex.length > 120 ? `${regex.slice(0, 120)}…` : regex;
  try {
    new RegExp(source, 'gu');
  } catch (e) {
    fail(path, `invalid regex ${JSON.stringify(shown)}: ${(e as Error).message}`);
  }
  // Star height > 1 (a quantified group that itself contains a quantifier, as in (a*)*b), or too many quantifiers.
  if (nestedRepetition(source, QUANTIFIER_LIMIT)) {
    fail(
      path,
      `regex ${JSON.stringify(shown)} is refused: it can backtrack catastrophically (a quantifier inside a quantified ` +
        `group, as in (a*)*, or more than ${QUANTIFIER_LIMIT} quantifiers); encoding text with it could freeze the page`,
    );
  }
  // A repeated group of alternatives ((a|a)*, (\s|\s\s)+) backtracks exponentially when its alternatives overlap;
  // safe-regex2 lets it through. No real pre-tokenizer repeats an alternation (their alternations are top-level).
  const { repeatedAlternation } = repetitionsOf(source);
  if (repeatedAlternation !== null) {
    fail(
      path,
      `regex ${JSON.stringify(shown)} is refused: it repeats a group of alternatives ("${repeatedAlternation}"), which backtracks ` +
        'catastrophically when the alternatives can match the same text; encoding text with it could freeze the page',
    );
  }
}
