/**
 * What every PEFT config parser here shares: how a value is shown in an error, which values count as "not used",
 * reading adapter_config.json text into an object, and the policy for fields the config class does not know.
 *
 * PEFT itself (`config.py`, PeftConfigMixin.from_peft_type) drops unknown keys with a warning. Here an unknown key
 * holding an empty value (null, false, [], {}) is dropped with a warning too, but one holding a value is refused: it
 * comes from a newer PEFT and may change what the adapter computes.
 */
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';
import { PEFT_VERSION } from './peft-version';

/** A value as an error message shows it (JSON where possible). */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Values of unsupported fields that mean "not used": PEFT's defaults, and the empty values PEFT treats the same. */
export function isUnusedValue(v: unknown): boolean {
  return v === null || v === false || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0);
}

/**
 * Checks the keys of `raw` against a config class's fields. `mode` "make" refuses every unknown key; "load" (an
 * adapter_config.json) ignores `runtime_config` and unknown keys with an empty value, with a warning, and refuses
 * unknown keys with a value.
 */
export function screenUnknownFields(args: {
  raw: Record<string, unknown>;
  fields: readonly string[];
  /** PEFT's class name, e.g. "LoraConfig". */
  className: string;
  where: string;
  mode: 'make' | 'load';
  warnings: string[];
  error: (message: string) => Error;
}): void {
  const known = new Set(args.fields);
  const { where, className } = args;
  for (const [k, v] of Object.entries(args.raw)) {
    if (known.has(k)) continue;
    if (args.mode === 'make') {
      throw args.error(`${where}: unknown field "${k}"; ${className} fields (PEFT ${PEFT_VERSION}): ${args.fields.join(', ')}`);
    }
    if (k === 'runtime_config' || isUnusedValue(v)) {
      args.warnings.push(`${where}: ignored the field "${k}" (${showValue(v)}), unknown to PEFT ${PEFT_VERSION}'s ${className} or runtime-only`);
      continue;
    }
    throw args.error(
      `${where}: unknown field "${k}" = ${showValue(v)}; it is not a field of PEFT ${PEFT_VERSION}'s ${className} (written by a newer PEFT?), ` +
        `and a set value may change what the adapter computes`,
    );
  }
}

/** adapter_config.json text as a JSON object; `error` builds the thrown error. */
export function parseConfigObject(text: string, file: string, error: (message: string) => Error): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw error(`${file}: expected a JSON object, got ${showValue(json)}`);
  return json;
}

/**
 * The type checks PEFT's config dataclasses imply, for a config being read or made: each failure throws the
 * config's own error class, naming where the config comes from, the field, its value and what was expected.
 */
export class ConfigFieldChecker {
  constructor(
    readonly where: string,
    private readonly error: (message: string) => Error,
  ) {}

  fail(field: string, value: unknown, expected: string): never {
    throw this.error(`${this.where}: ${field} = ${showValue(value)} is invalid; expected ${expected}`);
  }

  bool(field: string, v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(field, v, 'true or false');
    return v;
  }

  nullableString(field: string, v: unknown): string | null {
    if (v !== null && typeof v !== 'string') this.fail(field, v, 'a string or null');
    return v;
  }

  positiveInt(field: string, v: unknown, extra = ''): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(field, v, `a positive integer${extra}`);
    return v;
  }
}

/**
 * fan_in_fan_out as PEFT forces it per layer type (LoRA's `dispatch_default`, IA³'s `_create_new_module`): true for
 * GPT-2's Conv1D, false for nn.Linear; a config that says otherwise gets a warning, as PEFT gives one.
 */
export function forcedFanInFanOut(model: ModelConfig, given: boolean, where: string, warnings: string[]): boolean {
  const forced = architectureOf(model).layout === 'conv1d';
  if (given !== forced) {
    warnings.push(`${where}: fan_in_fan_out = ${given} does not fit ${model.modelType}'s ${forced ? 'Conv1D' : 'nn.Linear'} layers; set to ${forced}, as PEFT does`);
  }
  return forced;
}
