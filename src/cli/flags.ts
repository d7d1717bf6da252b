/**
 * Command-line flags: each command's table (parseArgs type, the value shown in the usage, whether required, help),
 * the flags of the option schema's fields (src/options), typed reading of the values with errors that name the flag
 * and what it expects, and the usage and help texts made from the tables.
 */
import type { KernelProfile } from '../gpu/device';
import { accepts, expectation, formatDefault, fromText, plainText, type Field, type FieldSet, type ValuesOf } from '../options/field';
import { CliUsageError } from './errors';

export type Values = Record<string, string | boolean | undefined>;

export interface CliFlag {
  type: 'string' | 'boolean';
  /** How the value looks in the usage line, e.g. "DIR", "N" or "f32|q8|q4|nf4" (a string flag without one shows "VALUE"). */
  value?: string;
  required?: boolean;
  help: string;
  /** The default, as `--help` shows it. */
  default?: string;
  /** Given as the command's one positional argument (`push … DIR`), not as `--name`. */
  positional?: boolean;
}

export type CliFlags = Readonly<Record<string, CliFlag>>;

function usageValue(f: Field): string | undefined {
  switch (f.kind) {
    case 'boolean':
      return undefined;
    case 'choice':
      return f.choices.join('|');
    case 'targets':
      return 'LIST|REGEX|all-linear';
    case 'text':
      return 'TEXT';
    case 'derived-int':
      return 'N';
    default:
      return formatDefault(f);
  }
}

/** The flags of a set of schema fields. */
export function schemaFlags(fields: FieldSet): CliFlags {
  const out: Record<string, CliFlag> = {};
  for (const f of Object.values(fields)) {
    out[f.flag] = { type: f.kind === 'boolean' ? 'boolean' : 'string', value: usageValue(f), help: plainText(f.help), default: formatDefault(f) };
  }
  return out;
}

/**
 * The values of the fields whose flags were given (a switch counts when on); the others are left out, for the
 * caller's defaults. A bad value throws, naming the flag, the field and what is expected.
 */
export function readFlags<S extends FieldSet>(fields: S, values: Values): Partial<ValuesOf<S>> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    const raw = values[f.flag];
    if (raw === undefined || raw === false) continue;
    if (f.kind === 'boolean') {
      out[key] = true;
      continue;
    }
    if (typeof raw !== 'string') throw new CliUsageError(`--${f.flag} needs a value (${key}: ${expectation(f)})`);
    const v = fromText(f, raw);
    if (!accepts(f, v)) throw new CliUsageError(`--${f.flag} ${raw}: expected ${expectation(f)} (${key})`);
    out[key] = v;
  }
  return out as Partial<ValuesOf<S>>;
}

export const KERNEL_PROFILES: readonly KernelProfile[] = ['tiled', 'direct'];

/** --kernels, for the commands that use the GPU. */
export const KERNELS_FLAG: CliFlag = {
  type: 'string',
  value: KERNEL_PROFILES.join('|'),
  help: "Forces the kernel profile: 'tiled' (tiled matmuls, for GPUs) or 'direct' (for CPU drivers such as SwiftShader). Default: chosen from the adapter.",
};

/** --kernels as given, or undefined (the adapter decides). */
export function kernelsFlag(values: Values): KernelProfile | undefined {
  return str(values, 'kernels') === undefined ? undefined : choice(values, 'kernels', KERNEL_PROFILES, 'tiled');
}

/** The parseArgs option table of a command's flags. */
export function parseArgsOptions(flags: CliFlags): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(Object.entries(flags).filter(([, f]) => !f.positional).map(([name, f]) => [name, { type: f.type }]));
}

/** The name of a command's positional argument, if it takes one. */
export function positionalFlag(flags: CliFlags): string | undefined {
  return Object.entries(flags).find(([, f]) => f.positional)?.[0];
}

function flagText(name: string, f: CliFlag): string {
  if (f.positional) return f.value ?? name.toUpperCase();
  return f.type === 'boolean' ? `--${name}` : `--${name} ${f.value ?? 'VALUE'}`;
}

/** A command's usage: its required flags, then the others in brackets, wrapped to `width` under an indent. */
export function usageLines(command: string, flags: CliFlags, indent: number, width = 116): string[] {
  const entries = Object.entries(flags);
  const required = entries.filter(([, f]) => f.required).map(([n, f]) => flagText(n, f));
  const optional = entries.filter(([, f]) => !f.required).map(([n, f]) => flagText(n, f));
  const words = [...required];
  if (optional.length > 0) {
    optional[0] = `[${optional[0]}`;
    optional[optional.length - 1] = `${optional.at(-1)}]`;
    words.push(...optional);
  }
  const lines: string[] = [];
  let line = `  ${command.padEnd(indent - 2)}`;
  for (const w of words) {
    if (line.trim().length > command.length && line.length + 1 + w.length > width) {
      lines.push(line);
      line = ' '.repeat(indent) + w;
    } else {
      line += line.endsWith(' ') ? w : ` ${w}`;
    }
  }
  lines.push(line);
  return lines;
}

/** `peft-studio <command> --help`: every flag with its value, default and what it does. */
export function commandHelp(command: string, flags: CliFlags): string {
  const rows = Object.entries(flags).map(([n, f]) => {
    const head = `  ${flagText(n, f)}${f.required ? ' (required)' : ''}`;
    const tail = `${f.help}${f.default !== undefined && f.type !== 'boolean' ? ` Default: ${f.default}.` : ''}`;
    return `${head}\n      ${tail}`;
  });
  return `usage: peft-studio ${command} [options]\n\n${rows.join('\n')}`;
}

// ------------------------------------------------------------------------------ flags outside the schema

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
