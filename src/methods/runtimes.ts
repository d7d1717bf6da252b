/** The GPU halves of the PEFT methods (MethodRuntime), by id: new adapters and adapters read from PEFT's files. */
import { BOTTLENECK_RUNTIME } from './bottleneck/adapter';
import { IA3_RUNTIME } from './ia3/adapter';
import { LORA_RUNTIME } from './lora/adapter';
import { promptLearningRuntime } from './shared/prompt-learning-adapter';
import type { MethodBase, MethodId, MethodRuntime, TrainedAdapter } from './method';
import { methodById, methodOfFiles } from './registry';

const RUNTIMES: Readonly<Record<MethodId, MethodRuntime>> = {
  lora: LORA_RUNTIME,
  'prompt-tuning': promptLearningRuntime('prompt-tuning', 'PROMPT_TUNING'),
  'p-tuning': promptLearningRuntime('p-tuning', 'P_TUNING'),
  'prefix-tuning': promptLearningRuntime('prefix-tuning', 'PREFIX_TUNING'),
  ia3: IA3_RUNTIME,
  bottleneck: BOTTLENECK_RUNTIME,
};

function runtimeOf(id: MethodId): MethodRuntime {
  return RUNTIMES[id];
}

/** A new adapter of a method on the base model, from its options (checked first, naming the field at fault). */
export function createAdapter(base: MethodBase, id: MethodId, options: Readonly<Record<string, unknown>>, seed: number): TrainedAdapter {
  return runtimeOf(methodById(id).id).create(base, options, seed);
}

/** The adapter an adapter folder's files hold (any supported method), checked against the base model. */
export function loadAdapterFiles(base: MethodBase, files: ReadonlyMap<string, Uint8Array>): TrainedAdapter {
  return runtimeOf(methodOfFiles(files).id).load(base, files);
}
