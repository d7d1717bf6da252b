/** Deterministic random checkpoints for tests, with the names and stored shapes of `expectedTensors`. */
import { architectureOf } from '../architectures/index';
import type { ModelConfig } from '../config';
import { expectedTensors, type HostWeights } from '../weight-names';
import { randomNormal } from '../../util/random';

/**
 * Norm weights ~ 1 + N(0, 0.1²), norm and linear biases ~ N(0, 0.1²), embeddings ~ N(0, 0.3²) (GPT-2's
 * wpe N(0, 0.1²)), linear weights ~ N(0, 1/in), so activations and logits stay O(1) in small models.
 * Each tensor's values depend only on `seed` and its index in `expectedTensors(config)`.
 */
export function makeRandomHostWeights(config: ModelConfig, seed: number): HostWeights {
  const weights: HostWeights = new Map();
  const arch = architectureOf(config);
  const { names } = arch;
  expectedTensors(config).forEach(({ name, shape }, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = (seed + Math.imul(i + 1, 0x85ebca6b)) >>> 0;
    let data: Float32Array;
    const isNorm = /(ln_\d|ln_f|layernorm|norm)\.weight$/.test(name);
    if (isNorm) {
      data = randomNormal(n, s, 0.1);
      for (let j = 0; j < n; j++) data[j] += 1;
    } else if (name.endsWith('.bias')) {
      data = randomNormal(n, s, 0.1);
    } else if (name === names.positionEmbedding) {
      data = randomNormal(n, s, 0.1);
    } else if (name === names.tokenEmbedding || name === names.lmHead) {
      data = randomNormal(n, s, 0.3);
    } else {
      // A linear layer: Conv1D stores [in, out], nn.Linear [out, in].
      const fanIn = arch.layout === 'conv1d' ? shape[0] : shape[1];
      data = randomNormal(n, s, 1 / Math.sqrt(fanIn));
    }
    weights.set(name, { shape: [...shape], data });
  });
  return weights;
}
