/**
 * LoRA dropout's keep mask, reproducible from a seed. PEFT applies nn.Dropout(p) to the input of the LoRA
 * branch only: kept values are scaled by 1/(1 − p), dropped ones are zero. The GPU recomputes the same mask
 * in the forward and the backward pass from (seed, element index), so no mask buffer is stored.
 *
 * The hash is PCG's output permutation (as in "Hash Functions for GPU Rendering", Jarzynski & Olano 2020).
 * `dropout.wgsl` holds the identical WGSL function; both must change together.
 */

/** pcg_hash on u32. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Uniform in [0, 1) with 24 bits, for element `index` (row-major m·K + k) under `seed`. */
export function dropoutUniform(seed: number, index: number): number {
  return (pcgHash((index ^ pcgHash(seed >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** Multiplier of element `index`: 0 when dropped, 1/(1 − p) when kept. p is compared as f32, like the GPU. */
export function dropoutFactor(seed: number, index: number, p: number): number {
  if (p <= 0) return 1;
  const pf = Math.fround(p);
  return dropoutUniform(seed, index) >= pf ? 1 / (1 - pf) : 0;
}

export function validateDropout(p: number): void {
  if (!(p >= 0 && p < 1)) throw new RangeError(`lora_dropout must be in [0, 1), got ${p}`);
}

/**
 * Seed of the `stream`-th independent mask drawn from one step's seed (a layer of a stack, a module among the
 * adapted ones): the step's seed mixed with the golden-ratio multiple of stream + 1, then hashed.
 */
export function streamSeed(seed: number, stream: number): number {
  return pcgHash((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0);
}
