/**
 * LoRA weight initialization as PEFT does it (`tuners/lora/layer.py`, LoraLayer.update_layer and
 * reset_lora_parameters), with this project's seeded generator instead of torch's:
 *
 * - lora_A is an `nn.Linear(in, r, bias=False)` (weight [r, in]) and lora_B an `nn.Linear(r, out, bias=False)`
 *   (weight [out, r]); both start with nn.Linear's default init, `kaiming_uniform_(weight, a=√5)`.
 *   torch's kaiming_uniform_ draws U(−bound, bound) with bound = gain·√(3 / fan_in) and, for leaky_relu with
 *   negative slope a, gain = √(2 / (1 + a²)). With a = √5: gain = √(2/6) = 1/√3, so bound = √(3/fan_in)/√3 =
 *   1/√fan_in, where fan_in is the weight's second dimension: `in` for A ([r, in]), `r` for B ([out, r]).
 * - init_lora_weights = true: A is drawn again with kaiming_uniform_(a=√5) (bound 1/√in), B = 0.
 * - "gaussian": A ~ N(0, (1/r)²) (`nn.init.normal_(std=1/r)`), B = 0.
 * - false: reset_lora_parameters is skipped, so both keep nn.Linear's default: A ~ U(±1/√in), B ~ U(±1/√r).
 *   (A no-op adapter is then not a no-op; PEFT means it for debugging.)
 */
import { randomNormal, randomUniform } from '../util/random';
import type { InitLoraWeights } from './lora-config';

export interface LoraPair {
  /** lora_A.weight, [r, in] row-major. */
  a: Float32Array;
  /** lora_B.weight, [out, r] row-major. */
  b: Float32Array;
}

/** The bound of kaiming_uniform_(a=√5) for a weight whose second dimension is fanIn: 1/√fanIn. */
export function kaimingUniformBound(fanIn: number): number {
  const a = Math.sqrt(5);
  const gain = Math.sqrt(2 / (1 + a * a));
  return gain * Math.sqrt(3 / fanIn);
}

/** A seed per (seed, module index, tensor), so that modules and A/B get independent streams. */
function subSeed(seed: number, index: number, tensor: 0 | 1): number {
  let h = (seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(tensor + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Initial A and B for every target, by module path, seeded. */
export function initLoraWeights(
  targets: readonly { path: string; r: number; inFeatures: number; outFeatures: number }[],
  init: InitLoraWeights,
  seed: number,
): Map<string, LoraPair> {
  if (init !== true && init !== false && init !== 'gaussian') {
    throw new RangeError(`init_lora_weights ${JSON.stringify(init)} is not supported; expected true, false or "gaussian"`);
  }
  const out = new Map<string, LoraPair>();
  targets.forEach((t, i) => {
    if (out.has(t.path)) throw new RangeError(`initLoraWeights: module "${t.path}" is listed twice`);
    if (!Number.isSafeInteger(t.r) || t.r <= 0) throw new RangeError(`initLoraWeights: "${t.path}": r must be a positive integer, got ${t.r}`);
    const nA = t.r * t.inFeatures;
    const nB = t.outFeatures * t.r;
    let a: Float32Array;
    let b: Float32Array;
    if (init === 'gaussian') {
      a = randomNormal(nA, subSeed(seed, i, 0), 1 / t.r);
      b = new Float32Array(nB);
    } else {
      const boundA = kaimingUniformBound(t.inFeatures);
      a = randomUniform(nA, subSeed(seed, i, 0), -boundA, boundA);
      if (init === true) b = new Float32Array(nB);
      else {
        const boundB = kaimingUniformBound(t.r);
        b = randomUniform(nB, subSeed(seed, i, 1), -boundB, boundB);
      }
    }
    out.set(t.path, { a, b });
  });
  return out;
}
