/** The GPU halves of the PEFT methods (MethodRuntime), by id: new adapters and adapters read from PEFT's files. */
import { LORA_RUNTIME } from './lora/adapter';
import type { MethodBase, MethodId, MethodRuntime, TrainedAdapter } from './method';
import { methodById, methodOfFiles } from './registry';

const RUNTIMES: Readonly<Partial<Record<MethodId, MethodRuntime>>> = {
  lora: LORA_RUNTIME,
};

function runtimeOf(id: MethodId): MethodRuntime {
  const r = RUNTIMES[id];
  if (!r) throw new Error(`internal: method "${id}" has no runtime`);
  return r;
}

/** A new adapter of a method on the base model, from its options (checked first, naming the field at fault). */
export function createAdapter(base: MethodBase, id: MethodId, options: Readonly<Record<string, unknown>>, seed: number): TrainedAdapter {
  return runtimeOf(methodById(id).id).create(base, options, seed);
}

/** The adapter an adapter folder's files hold (any supported method), checked against the base model. */
export function loadAdapterFiles(base: MethodBase, files: ReadonlyMap<string, Uint8Array>): TrainedAdapter {
  return runtimeOf(methodOfFiles(files).id).load(base, files);
}
