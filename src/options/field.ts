/**
 * The option schema's field type and what every surface derives from a field: its expected-value text, the check
 * of a value (type and bounds), the reading of a command-line value, the defaults of a set of fields.
 *
 * A field describes one option of a training run once: name (the key of its set), type, default and whose default
 * it is, bounds, help text, CLI flag and UI label. The sets are in lora-fields.ts, training-fields.ts and
 * run-fields.ts; the worker protocol, the Method panel, the studio's stores, the CLI and the README table read them.
 */

/** Whose default a field has: PEFT's LoraConfig, transformers' TrainingArguments, or ours where they have none or we differ (the help says why). */
export type DefaultSource = 'PEFT' | 'transformers' | 'PEFT Studio';

interface FieldBase<T> {
  /** The CLI flag without "--"; the Method panel's input has data-testid="method-<flag>". */
  readonly flag: string;
  /** The Method panel's label; text in backticks is code. */
  readonly label: string;
  /** What the option does; text in backticks is code. Shown in the Method panel, `peft-studio <command> --help` and the README. */
  readonly help: string;
  readonly default: T;
  readonly defaultFrom: DefaultSource;
  /** The Method panel folds it away under "More settings". */
  readonly advanced?: boolean;
  /**
   * The option only matters when another field of its set has one of these values (prompt_tuning_init_text with
   * prompt_tuning_init TEXT): the Method panel disables it otherwise, and a run then sends its default.
   */
  readonly onlyWhen?: { readonly field: string; readonly values: readonly (string | boolean)[] };
}

export interface NumberField extends FieldBase<number> {
  readonly kind: 'number' | 'int';
  /** Inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds. */
  readonly above?: number;
  readonly below?: number;
  /** The Method panel's spin step for a 'number' (an 'int' steps by 1; 'any' when left out). */
  readonly step?: number;
}

/** A switch: on the command line the flag alone turns it on, so its default must be false (a test checks). */
export interface BooleanField extends FieldBase<boolean> {
  readonly kind: 'boolean';
}

export interface ChoiceField<T extends string = string> extends FieldBase<T> {
  readonly kind: 'choice';
  readonly choices: readonly T[];
  /** How the Method panel names each choice (the value itself when left out). */
  readonly choiceLabels?: Readonly<Partial<Record<T, string>>>;
}

/**
 * PEFT's target_modules: a list of module names (a name matches when it ends in one), a regex (full match), or
 * "all-linear". The default (null) is PEFT's per model type.
 */
export interface TargetsField extends FieldBase<null> {
  readonly kind: 'targets';
  /** An empty list is a value: it selects no module (IA³'s feedforward_modules: none input-scaled). */
  readonly allowEmpty?: boolean;
}

/** Free text (a prompt); null when not given. */
export interface TextField extends FieldBase<null> {
  readonly kind: 'text';
}

/** An integer whose default is derived from the model (e.g. P-tuning's encoder_hidden_size: token_dim); null = derived. */
export interface DerivedIntField extends FieldBase<null> {
  readonly kind: 'derived-int';
  /** What the default is, in words: "token_dim". */
  readonly derivedFrom: string;
  readonly min: number;
}

export type Field = NumberField | BooleanField | ChoiceField | TargetsField | TextField | DerivedIntField;
export type FieldSet = Readonly<Record<string, Field>>;

export type ValueOf<F extends Field> = F extends NumberField
  ? number
  : F extends BooleanField
    ? boolean
    : F extends ChoiceField<infer T>
      ? T
      : F extends TargetsField
        ? string[] | string
        : F extends TextField
          ? string | null
          : F extends DerivedIntField
            ? number | null
            : never;

/** The values a set of fields takes. */
export type ValuesOf<S extends FieldSet> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/** The defaults of a set of fields (null for target_modules: PEFT's per model type; null for text and derived sizes). */
export type DefaultsOf<S extends FieldSet> = { -readonly [K in keyof S]: S[K] extends TargetsField | TextField | DerivedIntField ? null : ValueOf<S[K]> };

export function defaultsOf<S extends FieldSet>(fields: S): DefaultsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) out[key] = field.default;
  return out as DefaultsOf<S>;
}

/** Whether a field matters with these values of its set (see FieldBase.onlyWhen). */
export function fieldApplies(field: Field, values: Readonly<Record<string, unknown>>): boolean {
  return !field.onlyWhen || (field.onlyWhen.values as readonly unknown[]).includes(values[field.onlyWhen.field]);
}

/** The values of a set with each field that does not matter (fieldApplies) at its default. */
export function withUnusedAtDefault(fields: FieldSet, values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  for (const [key, field] of Object.entries(fields)) if (!fieldApplies(field, values)) out[key] = field.default;
  return out;
}

/** The subset of a set of fields with the given keys. */
export function pickFields<S extends FieldSet, K extends keyof S>(fields: S, keys: readonly K[]): Pick<S, K> {
  return Object.fromEntries(keys.map((k) => [k, fields[k]])) as Pick<S, K>;
}

/** A choice field's default, checked to be one of its choices (for defaults taken from elsewhere, e.g. PEFT's). */
export function choiceDefault<T extends string>(choices: readonly T[], value: string): T {
  if (!(choices as readonly string[]).includes(value)) throw new Error(`default ${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
  return value as T;
}

export function numberBounds(f: NumberField): string {
  const lower = f.min !== undefined ? `≥ ${f.min}` : f.above !== undefined ? `> ${f.above}` : null;
  const upper = f.max !== undefined ? `≤ ${f.max}` : f.below !== undefined ? `< ${f.below}` : null;
  return [lower, upper].filter((b) => b !== null).join(' and ');
}

/** What a field accepts, in words: "an integer ≥ 1", "a number ≥ 0 and < 1", "one of none, lora_only". */
export function expectation(f: Field): string {
  switch (f.kind) {
    case 'number':
    case 'int': {
      const bounds = numberBounds(f);
      return `${f.kind === 'int' ? 'an integer' : 'a number'}${bounds ? ` ${bounds}` : ''}`;
    }
    case 'boolean':
      return 'true or false';
    case 'choice':
      return `one of ${f.choices.join(', ')}`;
    case 'targets':
      return `a ${f.allowEmpty ? '' : 'non-empty '}list of module names, a regex, or "all-linear"`;
    case 'text':
      return 'a text';
    case 'derived-int':
      return `an integer ≥ ${f.min} (default: ${f.derivedFrom})`;
  }
}

/** A number as a person writes it: 2e-4, 1e-8, 0.999, 256. */
export function formatNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x);
}

/** A field's default as the CLI's usage and help and the README show it. */
export function formatDefault(f: Field): string {
  if (f.kind === 'targets') return 'per model type';
  if (f.kind === 'text') return 'none';
  if (f.kind === 'derived-int') return f.derivedFrom;
  if (f.kind === 'number' || f.kind === 'int') return formatNumber(f.default);
  return String(f.default);
}

/** Whether a value is of the field's type and within its bounds. */
export function accepts(f: Field, v: unknown): boolean {
  switch (f.kind) {
    case 'number':
    case 'int':
      return (
        typeof v === 'number' &&
        Number.isFinite(v) &&
        (f.kind === 'number' || Number.isInteger(v)) &&
        (f.min === undefined || v >= f.min) &&
        (f.max === undefined || v <= f.max) &&
        (f.above === undefined || v > f.above) &&
        (f.below === undefined || v < f.below)
      );
    case 'boolean':
      return typeof v === 'boolean';
    case 'choice':
      return (f.choices as readonly unknown[]).includes(v);
    case 'targets':
      return (
        (typeof v === 'string' && v.length > 0) ||
        (Array.isArray(v) && (v.length > 0 || f.allowEmpty === true) && v.every((x) => typeof x === 'string' && x.length > 0))
      );
    case 'text':
      return v === null || typeof v === 'string';
    case 'derived-int':
      return v === null || (typeof v === 'number' && Number.isInteger(v) && v >= f.min);
  }
}

/** A value that a set of fields refuses: an unknown key, or a value of the wrong type or out of bounds. */
export interface FieldProblem {
  key: string;
  value: unknown;
  /** What was expected ("one of the fields r, lora_alpha, …" for an unknown key). */
  expected: string;
}

/**
 * The first problem of `values` against `fields`, in the fields' order after the unknown keys; null when there is
 * none. Missing keys are fine (they take their defaults) unless `complete`. An undefined value counts as missing.
 */
export function firstProblem(fields: FieldSet, values: Readonly<Record<string, unknown>>, opts: { complete?: boolean } = {}): FieldProblem | null {
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(fields, key)) return { key, value, expected: `one of the fields ${Object.keys(fields).join(', ')}` };
  }
  for (const [key, field] of Object.entries(fields)) {
    const value = values[key];
    if (value === undefined && !opts.complete) continue;
    if (!accepts(field, value)) return { key, value, expected: expectation(field) };
  }
  return null;
}

/** "key = value: expected …", the value as JSON (NaN and the infinities as themselves). */
export function problemText(p: FieldProblem, name = p.key): string {
  const shown = typeof p.value === 'number' && !Number.isFinite(p.value) ? String(p.value) : JSON.stringify(p.value);
  return `${name} = ${shown !== undefined && shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}: expected ${p.expected}`;
}

/**
 * A field's value from command-line text (a switch has none): a number (NaN for empty text), the choice as written,
 * or target_modules as "all-linear", a comma-separated list, or a regex (any text with regex characters).
 */
export function fromText(f: Exclude<Field, BooleanField>, text: string): unknown {
  switch (f.kind) {
    case 'number':
    case 'int':
      return text.trim() === '' ? Number.NaN : Number(text);
    case 'choice':
    case 'text':
      return text;
    case 'derived-int':
      return text.trim() === '' ? Number.NaN : Number(text);
    case 'targets':
      if (text === 'all-linear' || /[\\^$*+?()[\]{}|]/.test(text)) return text;
      return text.split(',').map((s) => s.trim()).filter(Boolean);
  }
}

/** Text with `code` spans, split into plain and code pieces (for the Method panel). */
export function codeSpans(text: string): { text: string; code: boolean }[] {
  return text.split('`').map((piece, i) => ({ text: piece, code: i % 2 === 1 })).filter((p) => p.text !== '');
}

/** Text with the backticks of its code spans removed. */
export function plainText(text: string): string {
  return text.replaceAll('`', '');
}
