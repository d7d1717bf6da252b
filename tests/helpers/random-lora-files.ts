/**
 * A LoRA adapter with random, non-zero A and B (and random trained biases with bias "lora_only") in PEFT's files,
 * with the same adapter as a float64 reference method: what a merged export must reproduce.
 */
import { loraReference, makeRandomLora } from '../../src/methods/lora/reference';
import type { ReferenceMethod } from '../../src/model/reference/method-hooks';
import type { ModelConfig } from '../../src/model/config';
import type { HostWeights } from '../../src/model/weight-names';
import { exportLoraAdapter } from '../../src/peft/adapter-files';
import { makeLoraConfig, type LoraConfig } from '../../src/peft/lora-config';
import { resolveLoraTargets } from '../../src/peft/lora-targets';
import { randomNormal } from '../../src/util/random';

export interface RandomLoraFiles {
  files: Map<string, Uint8Array>;
  /** The adapter on the reference model (its scale from PEFT's config, rsLoRA included). */
  reference: ReferenceMethod;
  /** The base weights with the adapter's trained biases in place, as PEFT loads them into the base layers. */
  weightsWithBiases: HostWeights;
}

export function randomLoraFiles(
  model: ModelConfig,
  weights: HostWeights,
  opts: { targets: string[]; r: number; alpha: number; rslora?: boolean; bias?: LoraConfig['bias']; seed: number; nameOrPath?: string },
): RandomLoraFiles {
  const config = makeLoraConfig(
    { r: opts.r, lora_alpha: opts.alpha, target_modules: opts.targets, use_rslora: opts.rslora ?? false, bias: opts.bias ?? 'none' },
    model,
    { nameOrPath: opts.nameOrPath ?? 'tiny' },
  );
  const targets = resolveLoraTargets(config, model);
  const random = makeRandomLora(model, opts.targets, opts.r, opts.alpha, opts.seed);
  const pairs = new Map([...random].map(([path, m]) => [path, { a: Float32Array.from(m.a), b: Float32Array.from(m.b) }]));
  const biases = new Map<string, Float32Array>();
  const weightsWithBiases: HostWeights = new Map(weights);
  if (config.bias === 'lora_only') {
    targets.forEach((t, i) => {
      if (!t.hasBias) return;
      const bias = Float32Array.from(randomNormal(t.outFeatures, opts.seed + 1000 + i, 0.5));
      biases.set(t.path, bias);
      weightsWithBiases.set(`${t.path}.bias`, { shape: [t.outFeatures], data: bias });
    });
  }
  const files = exportLoraAdapter({ config, weights: pairs, biases, model, targets });
  const scaled = new Map([...random].map(([path, m]) => [path, { ...m, a: Float64Array.from(pairs.get(path)!.a), b: Float64Array.from(pairs.get(path)!.b), scale: targets.find((t) => t.path === path)!.scale }]));
  return { files, reference: loraReference(model, scaled), weightsWithBiases };
}
