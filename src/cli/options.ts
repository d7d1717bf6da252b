/** Typed reading of parsed command-line values, with errors that name the option and what it expects. */
import { CliUsageError } from './errors';

type Values = Record<string, string | boolean | undefined>;

export function str(values: Values, name: string, required: true): string;
export function str(values: Values, name: string, required?: false): string | undefined;
export function str(values: Values, name: string, required = false): string | undefined {
  const v = values[name];
  if (v === undefined || v === false) {
    if (required) throw new CliUsageError(`--${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new CliUsageError(`--${name} needs a value`);
  return v;
}

export function num(values: Values, name: string, fallback: number, check?: { int?: boolean; min?: number; max?: number; gt?: number; lt?: number }): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const expect = (what: string) => new CliUsageError(`--${name} ${raw}: expected ${what}`);
  if (raw.trim() === '' || !Number.isFinite(v)) throw expect('a number');
  if (check?.int && !Number.isInteger(v)) throw expect('an integer');
  if (check?.min !== undefined && v < check.min) throw expect(`a number ≥ ${check.min}`);
  if (check?.max !== undefined && v > check.max) throw expect(`a number ≤ ${check.max}`);
  if (check?.gt !== undefined && !(v > check.gt)) throw expect(`a number > ${check.gt}`);
  if (check?.lt !== undefined && !(v < check.lt)) throw expect(`a number < ${check.lt}`);
  return v;
}

export function choice<T extends string>(values: Values, name: string, options: readonly T[], fallback: T): T {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  if (!(options as readonly string[]).includes(raw)) throw new CliUsageError(`--${name} ${raw}: expected one of ${options.join(', ')}`);
  return raw as T;
}
