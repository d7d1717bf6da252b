/**
 * The adapter a worker holds on its loaded model between requests: the last one trained with model kind 'loaded',
 * or one imported with `adapter-import`. Generation with side 'adapted' and `adapter-export` use it.
 */
import type { GpuLoraSet } from '../methods/lora/gpu';
import type { ModelConfig } from '../model/config';
import { exportLoraAdapter } from '../peft/adapter-files';
import type { LoraConfig } from '../peft/lora-config';
import type { ResolvedTarget } from '../peft/lora-targets';
import { countParameters } from '../peft/trainable-params';
import type { AdapterInfo } from './protocol';

export interface HeldAdapter {
  lora: GpuLoraSet;
  config: LoraConfig;
  targets: ResolvedTarget[];
  origin: AdapterInfo['origin'];
}

export function describeAdapter(held: HeldAdapter, model: ModelConfig): AdapterInfo {
  return {
    origin: held.origin,
    r: held.config.r,
    loraAlpha: held.config.lora_alpha,
    useRslora: held.config.use_rslora,
    targetModules: held.config.target_modules ?? [],
    modules: held.targets.length,
    trainableParameters: countParameters(model, held.targets, held.config.bias).trainable,
  };
}

/** The adapter's files in PEFT's format, each in an ArrayBuffer of its own (so that it can be transferred). */
export async function exportHeldAdapter(held: HeldAdapter, model: ModelConfig): Promise<Record<string, Uint8Array>> {
  return transferableFiles(exportLoraAdapter({ config: held.config, weights: await held.lora.readWeights(), biases: await held.lora.readBiases(), model, targets: held.targets }));
}

/** Files by name, each copied into an ArrayBuffer of its own (so that it can be transferred to the page). */
export function transferableFiles(files: ReadonlyMap<string, Uint8Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, bytes] of files) out[name] = bytes.slice();
  return out;
}
