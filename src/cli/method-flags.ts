/** --method and the options of every PEFT method as command-line flags (each method's fields from the option schema). */
import type { MethodId, PeftMethod } from '../methods/method';
import { availableMethods, methodById } from '../methods/registry';
import { CliUsageError } from './errors';
import { readFlags, schemaFlags, str, type CliFlag, type CliFlags, type Values } from './flags';

export const METHOD_FLAG: CliFlag = {
  type: 'string',
  value: availableMethods().map((m) => m.id).join('|'),
  help: `The PEFT method: ${availableMethods().map((m) => `${m.id} (${m.label})`).join(', ')}. Each takes its own options below.`,
  default: 'lora',
};

/** The flags of every method's options (a field shared by several methods, such as the number of virtual tokens, once). */
export function methodOptionFlags(): CliFlags {
  const out: Record<string, CliFlag> = {};
  for (const m of availableMethods()) {
    for (const [flag, f] of Object.entries(schemaFlags(m.fields))) {
      const owners = availableMethods().filter((x) => Object.values(x.fields).some((field) => field.flag === flag));
      out[flag] = owners.length === availableMethods().length ? f : { ...f, help: `[--method ${owners.map((x) => x.id).join('|')}] ${f.help}` };
    }
  }
  return out;
}

/** The method --method names, and its options from their flags; a flag of another method's option is refused. */
export function readMethodFlags(values: Values): { method: PeftMethod; options: Record<string, unknown> } {
  const id = str(values, 'method') ?? 'lora';
  let method: PeftMethod;
  try {
    method = methodById(id);
  } catch (e) {
    throw new CliUsageError(`--method ${id}: ${(e as Error).message}`);
  }
  const own = new Set(Object.values(method.fields).map((f) => f.flag));
  for (const other of availableMethods()) {
    for (const f of Object.values(other.fields)) {
      if (!own.has(f.flag) && values[f.flag] !== undefined && values[f.flag] !== false) {
        throw new CliUsageError(`--${f.flag} is an option of ${other.label}, not of ${method.label} (--method ${method.id satisfies MethodId})`);
      }
    }
  }
  return { method, options: readFlags(method.fields, values) };
}
