/**
 * PEFT matches module names with Python's `re` (target_modules as a string: `re.fullmatch`; rank_pattern and
 * alpha_pattern keys: `re.match(rf"(.*\.)?({key})$", name)`). The two dialects agree on everything module-name
 * patterns use (classes, groups, alternation, quantifiers, anchors); this translates the few Python-only spellings
 * and refuses what JavaScript cannot express, so a pattern never silently means something else here.
 *
 * These patterns come from downloaded adapter_config.json files and the command line, and JavaScript's matcher
 * backtracks: `(.*)*Z` or `(.|.)*Z` against one 30-character module name runs for minutes, and nothing can stop a
 * match once it has started. So before compiling, a pattern is refused when its shape allows that (see
 * `assertSafeShape`); what is left runs in time polynomial of low degree in the (short) module names.
 */
import { nestedRepetition, repetitionsOf } from '../util/regex-shape';

export class PythonRegexError extends Error {
  override name = 'PythonRegexError';
}

/**
 * JavaScript source for a Python pattern: `(?P<name>` → `(?<name>`, `(?P=name)` → `\k<name>`, `\A` → `^`,
 * `\Z` → `$` (JavaScript's `$` without the m flag matches only at the very end). Throws for inline flags such as
 * `(?i)`, which Node 20 does not support.
 */
export function pythonRegexToJs(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new PythonRegexError(`pattern ${JSON.stringify(pattern)} ends with a lone backslash`);
      if (!inClass && next === 'A') out += '^';
      else if (!inClass && next === 'Z') out += '$';
      else out += ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      // A ']' right after '[' or '[^' is a literal in Python.
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(' && pattern.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    if (ch === '(' && pattern.startsWith('(?P=', i)) {
      const end = pattern.indexOf(')', i);
      if (end < 0) throw new PythonRegexError(`pattern ${JSON.stringify(pattern)} has an unterminated (?P=name)`);
      out += `\\k<${pattern.slice(i + 4, end)}>`;
      i = end;
      continue;
    }
    if (ch === '(' && /^\(\?[aiLmsux-]+[:)]/.test(pattern.slice(i))) {
      throw new PythonRegexError(`pattern ${JSON.stringify(pattern)} uses inline flags ("${pattern.slice(i, pattern.indexOf(')', i) + 1)}"), which are not supported here`);
    }
    out += ch;
  }
  return out;
}

/** Longest pattern accepted. Module-name patterns are a few dozen characters; a longer list belongs in a list. */
export const MAX_PATTERN_LENGTH = 1000;
/**
 * Most repetitions that can run across dots (`.*`, `.+`, `\S*`, `[^_]+`, a repeated group) in one pattern. Each
 * one lets the matcher try another split of a name, so k of them cost about n^k / k! steps on a name of n
 * characters: with 4, a 50-character name takes milliseconds; with 6, half a second, for every module.
 */
export const MAX_WIDE_REPETITIONS = 4;

const SIMPLIFY = 'simplify the pattern, or list the module names instead (e.g. ["q_proj", "v_proj"])';

function showPattern(pattern: string): string {
  const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern;
  return JSON.stringify(shown);
}

function assertShortEnough(pattern: string, what: string): void {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new PythonRegexError(
      `${what}: ${showPattern(pattern)} is ${pattern.length} characters long, over the limit of ${MAX_PATTERN_LENGTH}; ${SIMPLIFY}`,
    );
  }
}

/**
 * Refuses a pattern whose matching can take exponential (or high-degree polynomial) time: a repetition inside a
 * repetition (`(.*)*`, `(a+)+`: star height above 1, found by safe-regex2), a repeated group of alternatives
 * (`(.|.)*`), or more than MAX_WIDE_REPETITIONS repetitions that can run across dots (`.*.*.*.*.*Z`).
 */
function assertSafeShape(pattern: string, jsSource: string, what: string): void {
  const shown = showPattern(pattern);
  if (nestedRepetition(jsSource)) {
    throw new PythonRegexError(
      `${what}: ${shown} repeats a repetition (a nested quantifier such as "(.*)*" or "(a+)+"), which makes matching ` +
        `backtrack catastrophically, taking exponential time; ${SIMPLIFY}`,
    );
  }
  const { wide, repeatedAlternation } = repetitionsOf(jsSource);
  if (repeatedAlternation !== null) {
    throw new PythonRegexError(
      `${what}: ${shown} repeats a group of alternatives ("${repeatedAlternation}"); when the alternatives can match the same ` +
        `text, matching backtracks catastrophically, taking exponential time; ${SIMPLIFY}`,
    );
  }
  if (wide > MAX_WIDE_REPETITIONS) {
    throw new PythonRegexError(
      `${what}: ${shown} has ${wide} repetitions such as ".*" that can run across dots, over the limit of ` +
        `${MAX_WIDE_REPETITIONS}; each one multiplies the ways a match can backtrack; ${SIMPLIFY}`,
    );
  }
}

/**
 * Compiles `wrap(jsSource)`; the error names `what` and the Python pattern. Refuses patterns that could make
 * matching backtrack for minutes (see assertSafeShape) and ones longer than MAX_PATTERN_LENGTH. The checks look
 * at the pattern alone: the wrappers used here add at most one `.*` of their own.
 */
export function compilePythonRegex(pattern: string, wrap: (jsSource: string) => string, what: string): RegExp {
  assertShortEnough(pattern, what);
  const jsSource = pythonRegexToJs(pattern);
  let re: RegExp;
  try {
    re = new RegExp(wrap(jsSource));
  } catch (e) {
    throw new PythonRegexError(`${what}: ${JSON.stringify(pattern)} is not a valid regular expression (${(e as Error).message})`);
  }
  assertSafeShape(pattern, jsSource, what);
  return re;
}

/** Python's `re.fullmatch(pattern, s)`. */
export function pythonFullmatch(pattern: string, what: string): RegExp {
  return compilePythonRegex(pattern, (src) => `^(?:${src})$`, what);
}

/** The pattern PEFT's `get_pattern_key` builds from a rank_pattern / alpha_pattern key: `(.*\.)?({key})$`, via re.match. */
export function pythonPatternKeyRegex(key: string, what: string): RegExp {
  return compilePythonRegex(key, (src) => `^(.*\\.)?(${src})$`, what);
}
