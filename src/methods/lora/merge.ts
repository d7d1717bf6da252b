/**
 * LoRA merged into the base weights, as PEFT's `merge_and_unload` does (tuners/lora/layer.py, Linear.merge and
 * get_delta_weight): W ← W + scaling·B·A for every adapted layer, transposed for GPT-2's Conv1D layers
 * (fan_in_fan_out, weights stored [in, out]); with bias "lora_only" or "all" the adapter's biases replace the base
 * layers' (PEFT loads them into the base model, so merging keeps them). The product is summed in float64 and
 * rounded once to float32. DoRA (use_dora) rescales each output feature's row of W + ΔW to its magnitude:
 * W′ = (m / ‖W + ΔW‖) ⊙ (W + ΔW), the bias untouched.
 */
import type { ModelConfig } from '../../model/config';
import type { HostWeights } from '../../model/weight-names';
import { importLoraAdapter } from '../../peft/adapter-files';
import type { MergeResult } from '../method';

export class LoraMergeError extends Error {
  override name = 'LoraMergeError';
}

export function mergeLora(files: ReadonlyMap<string, Uint8Array>, model: ModelConfig, weights: HostWeights): MergeResult {
  const adapter = importLoraAdapter(new Map(files), model);
  const merged: HostWeights = new Map(weights);
  for (const target of adapter.targets) {
    const name = `${target.path}.weight`;
    const base = weights.get(name);
    const pair = adapter.weights.get(target.path);
    if (!base) throw new LoraMergeError(`the base model has no tensor "${name}" for the adapted module "${target.path}"`);
    if (!pair) throw new LoraMergeError(`the adapter has no lora_A/lora_B for "${target.path}"`);
    const { inFeatures: K, outFeatures: N, r } = target;
    if (base.data.length !== K * N) {
      throw new LoraMergeError(`"${name}" has ${base.data.length} values; the adapter expects [${N}, ${K}] = ${K * N}`);
    }
    const out = Float32Array.from(base.data);
    const row = new Float64Array(K);
    for (let n = 0; n < N; n++) {
      row.fill(0);
      for (let j = 0; j < r; j++) {
        const b = target.scale * pair.b[n * r + j];
        if (b === 0) continue;
        const a = pair.a.subarray(j * K, (j + 1) * K);
        for (let k = 0; k < K; k++) row[k] += b * a[k];
      }
      const magnitude = adapter.magnitudes.get(target.path);
      if (magnitude) {
        // DoRA (PEFT's Linear.merge with use_dora): W′ = (m / ‖W + ΔW‖) ⊙ (W + ΔW) per output feature.
        let sq = 0;
        for (let k = 0; k < K; k++) {
          row[k] += target.layout === 'linear' ? base.data[n * K + k] : base.data[k * N + n];
          sq += row[k] * row[k];
        }
        const f = magnitude[n] / Math.sqrt(sq);
        for (let k = 0; k < K; k++) {
          const v = f * row[k];
          if (target.layout === 'linear') out[n * K + k] = v;
          else out[k * N + n] = v;
        }
        continue;
      }
      if (target.layout === 'linear') {
        for (let k = 0; k < K; k++) out[n * K + k] = base.data[n * K + k] + row[k];
      } else {
        for (let k = 0; k < K; k++) out[k * N + n] = base.data[k * N + n] + row[k];
      }
    }
    merged.set(name, { shape: base.shape, data: out });
  }
  for (const [path, bias] of adapter.biases) {
    const name = `${path}.bias`;
    const base = weights.get(name);
    if (!base || base.data.length !== bias.length) {
      throw new LoraMergeError(`the adapter's bias for "${path}" has ${bias.length} values; the base model's "${name}" has ${base?.data.length ?? 'none'}`);
    }
    merged.set(name, { shape: base.shape, data: Float32Array.from(bias) });
  }
  return { weights: merged, warnings: adapter.warnings };
}
