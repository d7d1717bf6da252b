/**
 * PEFT matches module names with Python's `re` (target_modules as a string: `re.fullmatch`; rank_pattern and
 * alpha_pattern keys: `re.match(rf"(.*\.)?({key})$", name)`). The two dialects agree on everything module-name
 * patterns use (classes, groups, alternation, quantifiers, anchors); this translates the few Python-only spellings
 * and refuses what JavaScript cannot express, so a pattern never silently means something else here.
 */

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

/** Compiles `wrap(jsSource)`; the error names `what` and the Python pattern. */
export function compilePythonRegex(pattern: string, wrap: (jsSource: string) => string, what: string): RegExp {
  try {
    return new RegExp(wrap(pythonRegexToJs(pattern)));
  } catch (e) {
    throw new PythonRegexError(`${what}: ${JSON.stringify(pattern)} is not a valid regular expression (${(e as Error).message})`);
  }
}

/** Python's `re.fullmatch(pattern, s)`. */
export function pythonFullmatch(pattern: string, what: string): RegExp {
  return compilePythonRegex(pattern, (src) => `^(?:${src})$`, what);
}

/** The pattern PEFT's `get_pattern_key` builds from a rank_pattern / alpha_pattern key: `(.*\.)?({key})$`, via re.match. */
export function pythonPatternKeyRegex(key: string, what: string): RegExp {
  return compilePythonRegex(key, (src) => `^(.*\\.)?(${src})$`, what);
}
