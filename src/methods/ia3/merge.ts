/**
 * IA³ merged into the base weights, as PEFT's IA3 Linear.merge does (tuners/ia3/layer.py): W ← W ⊙ ia3_l, with
 * ia3_l (out, 1) scaling each output feature's row, or (1, in) each input feature's column (feed-forward modules);
 * transposed for GPT-2's Conv1D layers (fan_in_fan_out, weights stored [in, out]). The bias is scaled too, for
 * modules that are not feed-forward (their output scaling includes it). Products are rounded once to float32.
 */
import type { ModelConfig } from '../../model/config';
import type { HostWeights } from '../../model/weight-names';
import { importIa3Adapter } from '../../peft/ia3-files';
import type { MergeResult } from '../method';

export class Ia3MergeError extends Error {
  override name = 'Ia3MergeError';
}

export function mergeIa3(files: ReadonlyMap<string, Uint8Array>, model: ModelConfig, weights: HostWeights): MergeResult {
  const adapter = importIa3Adapter(new Map(files), model);
  const merged: HostWeights = new Map(weights);
  for (const t of adapter.targets) {
    const name = `${t.path}.weight`;
    const base = weights.get(name);
    const l = adapter.vectors.get(t.path)!;
    if (!base) throw new Ia3MergeError(`the base model has no tensor "${name}" for the adapted module "${t.path}"`);
    const { inFeatures: K, outFeatures: N } = t;
    if (base.data.length !== K * N) throw new Ia3MergeError(`"${name}" has ${base.data.length} values; the adapter expects [${N}, ${K}] = ${K * N}`);
    const out = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const i = t.layout === 'linear' ? n * K + k : k * N + n;
        out[i] = base.data[i] * (t.feedforward ? l[k] : l[n]);
      }
    }
    merged.set(name, { shape: base.shape, data: out });
    if (!t.feedforward && t.hasBias) {
      const biasName = `${t.path}.bias`;
      const bias = weights.get(biasName);
      if (!bias || bias.data.length !== N) throw new Ia3MergeError(`the base model's bias "${biasName}" has ${bias?.data.length ?? 'no'} values; expected ${N}`);
      merged.set(biasName, { shape: bias.shape, data: Float32Array.from(bias.data, (b, n) => b * l[n]) });
    }
  }
  return { weights: merged, warnings: adapter.warnings };
}
