/**
 * The PEFT methods the studio offers, by id (their options and plans, without the GPU: the page, the protocol and
 * the CLI's flags read this), and the method of an adapter folder's files. Their GPU halves are in runtimes.ts.
 */
import type { ModelConfig } from '../model/config';
import { firstProblem, problemText } from '../options/field';
import { ADAPTER_CONFIG_FILE, AdapterFilesError } from '../peft/adapter-files';
import { isAdapterHubBottleneck } from '../peft/bottleneck-files';
import { BOTTLENECK_METHOD } from './bottleneck/method';
import { IA3_METHOD } from './ia3/method';
import { LORA_METHOD } from './lora/method';
import { P_TUNING_METHOD } from './p-tuning/method';
import { PREFIX_TUNING_METHOD } from './prefix-tuning/method';
import { PROMPT_TUNING_METHOD } from './prompt-tuning/method';
import { METHOD_IDS, type BaseModelName, type MethodId, type MethodPlan, type PeftMethod } from './method';

export const METHODS: Readonly<Record<MethodId, PeftMethod>> = {
  lora: LORA_METHOD,
  'prompt-tuning': PROMPT_TUNING_METHOD,
  'p-tuning': P_TUNING_METHOD,
  'prefix-tuning': PREFIX_TUNING_METHOD,
  ia3: IA3_METHOD,
  bottleneck: BOTTLENECK_METHOD,
};

/** The methods in the order the studio and the CLI list them. */
export function availableMethods(): PeftMethod[] {
  return METHOD_IDS.map((id) => METHODS[id]);
}

export class UnknownMethodError extends Error {
  override name = 'UnknownMethodError';
}

export function methodById(id: string): PeftMethod {
  const m = (METHODS as Record<string, PeftMethod | undefined>)[id];
  if (!m) throw new UnknownMethodError(`method ${JSON.stringify(id)} is not supported; methods: ${availableMethods().map((x) => x.id).join(', ')}`);
  return m;
}

export class MethodOptionsError extends Error {
  override name = 'MethodOptionsError';
}

/**
 * The plan of a method's options on a model: first each option against its field (type and bounds, naming the
 * field), then the method's own checks (its PEFT config, its targets).
 */
export function planMethod(method: PeftMethod, options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): MethodPlan {
  const problem = firstProblem(method.fields, options);
  if (problem) throw new MethodOptionsError(`${method.label}: ${problemText(problem)}`);
  return method.plan(options, model, base);
}

/** The method whose adapter an adapter folder holds, from adapter_config.json's peft_type. */
export function methodOfFiles(files: ReadonlyMap<string, Uint8Array>): PeftMethod {
  const bytes = files.get(ADAPTER_CONFIG_FILE);
  if (!bytes) throw new AdapterFilesError(`${ADAPTER_CONFIG_FILE} is missing; a PEFT adapter folder holds it and adapter_model.safetensors`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new AdapterFilesError(`${ADAPTER_CONFIG_FILE}: not valid JSON (${(e as Error).message})`);
  }
  // AdapterHub's bottleneck adapters have no peft_type (src/peft/bottleneck-files.ts).
  if (isAdapterHubBottleneck(json)) return BOTTLENECK_METHOD;
  const peftType = (json as { peft_type?: unknown } | null)?.peft_type;
  const m = availableMethods().find((x) => x.peftType === peftType);
  if (!m) {
    throw new AdapterFilesError(
      `${ADAPTER_CONFIG_FILE}: peft_type ${JSON.stringify(peftType)} is not supported; supported: ${availableMethods().map((x) => x.peftType).join(', ')}`,
    );
  }
  return m;
}
