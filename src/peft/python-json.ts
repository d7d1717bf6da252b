/**
 * A JSON writer that produces exactly what Python's `json.dumps(obj, indent=2, sort_keys=True)` produces, which is
 * how PEFT writes `adapter_config.json` (`config.py`, `PeftConfigMixin.save_pretrained`).
 *
 * What differs from `JSON.stringify`:
 * - Python tells `16` (int) from `16.0` (float). A JS number that is an integer is written as an int; wrap a value in
 *   `pyFloat()` to write it as a float (`16.0`). Other numbers are floats either way.
 * - Floats use Python's `repr`: the shortest digits that round-trip (the same digits JS picks), but in fixed notation
 *   only for decimal exponents -4 ≤ e < 16 and always with a fractional part (`16.0`, `0.0001`, `1e-05`, `1e+16`,
 *   `1.5e-07`). NaN and ±Infinity are written as `NaN`, `Infinity`, `-Infinity` (json.dumps allows them by default).
 * - `ensure_ascii=True`: every character outside U+0020..U+007E is escaped as `\uXXXX` (lowercase hex; characters
 *   above U+FFFF as their UTF-16 surrogate pair), and `"`, `\`, `\n`, `\r`, `\t`, `\b`, `\f` with their short escapes.
 * - With an indent, items are separated by ",\n" (no trailing spaces) and keys by ": "; an empty list is `[]` and an
 *   empty object `{}`. No newline at the end.
 * - `sort_keys` sorts by Unicode code point, as Python compares strings (JS's default sort compares UTF-16 units).
 */

/** A number that Python should see as a float, e.g. `pyFloat(16)` → `16.0`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

export type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson } | Map<string, PyJson>;

export interface PythonJsonOptions {
  /** Spaces per level; null writes the compact one-line form with ", " and ": " separators. Default 2. */
  indent?: number | null;
  /** Default true. */
  sortKeys?: boolean;
  /** Default true. */
  ensureAscii?: boolean;
}

export class PythonJsonError extends Error {
  override name = 'PythonJsonError';
}

/** Python's `repr(float)`. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, like Python's repr.
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  // Python's float_repr_style 'short' ('r' format): scientific notation when the decimal point position
  // decpt = exp + 1 is <= -4 or > 16.
  const decpt = exp + 1;
  if (decpt <= -4 || decpt > 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const e = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/** A JS number written as Python writes an int (`str(int)`), exactly, also beyond 2^53. */
function pythonIntRepr(x: number): string {
  return BigInt(x).toString();
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string literal as Python's json module writes it. */
export function pythonJsonString(s: string, ensureAscii = true): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || (ensureAscii && code > 0x7e)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** Compares two strings by Unicode code point, as Python does. */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isPlainObject(v: unknown): v is Record<string, PyJson> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python's `json.dumps(value, indent=2, sort_keys=True)` (see the module comment for the options). */
export function pythonJsonDumps(value: PyJson, options: PythonJsonOptions = {}): string {
  const indent = options.indent === undefined ? 2 : options.indent;
  const sortKeys = options.sortKeys ?? true;
  const ensureAscii = options.ensureAscii ?? true;
  const itemSep = indent === null ? ', ' : ',';
  const seen = new Set<object>();

  const encode = (v: PyJson, level: number, path: string): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'string') return pythonJsonString(v, ensureAscii);
    if (typeof v === 'number') return Number.isInteger(v) ? pythonIntRepr(v) : pythonFloatRepr(v);
    if (v instanceof PyFloat) {
      if (typeof v.value !== 'number') throw new PythonJsonError(`${path}: pyFloat() holds ${String(v.value)}, not a number`);
      return pythonFloatRepr(v.value);
    }
    let entries: [string, PyJson][] | null = null;
    let items: PyJson[] | null = null;
    if (Array.isArray(v)) items = v;
    else if (v instanceof Map) entries = [...v.entries()];
    else if (isPlainObject(v)) entries = Object.entries(v);
    else throw new PythonJsonError(`${path}: cannot write ${Object.prototype.toString.call(v)} as JSON`);
    if (seen.has(v)) throw new PythonJsonError(`${path}: circular reference`);
    seen.add(v);
    let body: string[];
    if (items) {
      if (items.length === 0) {
        seen.delete(v);
        return '[]';
      }
      body = items.map((x, i) => encode(x, level + 1, `${path}[${i}]`));
    } else {
      const es = entries!;
      for (const [k] of es) {
        if (typeof k !== 'string') throw new PythonJsonError(`${path}: object key ${String(k)} is not a string`);
      }
      if (es.length === 0) {
        seen.delete(v);
        return '{}';
      }
      if (sortKeys) es.sort((a, b) => compareCodePoints(a[0], b[0]));
      body = es.map(([k, x]) => `${pythonJsonString(k, ensureAscii)}: ${encode(x, level + 1, `${path}.${k}`)}`);
    }
    seen.delete(v);
    const [open, close] = items ? ['[', ']'] : ['{', '}'];
    if (indent === null) return `${open}${body.join(itemSep)}${close}`;
    const inner = '\n' + ' '.repeat(indent * (level + 1));
    return `${open}${inner}${body.join(itemSep + inner)}\n${' '.repeat(indent * level)}${close}`;
  };
  return encode(value, 0, '$');
}
