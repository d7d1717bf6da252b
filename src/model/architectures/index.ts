/** The supported model families. A new family is one description here (see ../architecture.ts). */
import type { ArchitectureDescription } from '../architecture';
import type { ConfigKeys, ModelConfig, ModelType } from '../config';
import { GPT2 } from './gpt2';
import { LLAMA } from './llama';

export const ARCHITECTURES: readonly ArchitectureDescription[] = [GPT2, LLAMA];

/** The description of a config.json model_type, or undefined when no family covers it. */
export function architectureForModelType(modelType: string): ArchitectureDescription | undefined {
  return ARCHITECTURES.find((a) => (a.modelTypes as readonly string[]).includes(modelType as ModelType));
}

/** The description of a parsed config's family. */
export function architectureOf(c: Pick<ModelConfig, 'architecture'>): ArchitectureDescription {
  const a = ARCHITECTURES.find((x) => x.family === c.architecture);
  if (!a) throw new Error(`internal: no architecture description for "${c.architecture}"`);
  return a;
}

/** The config.json keys a family names its sizes with, for errors about them. */
export function configKeysOf(c: Pick<ModelConfig, 'architecture'>): ConfigKeys {
  return architectureOf(c).configKeys;
}
