/**
 * CPU packer and reference decoder for the frozen weight W0, following the bit layout contract in
 * `weight-format.ts` exactly (the WGSL decoder reads what `packWeight` writes).
 *
 * Quantization rules, per group of values along k (the input dimension):
 * - q8:  d = f32(absmax / 127), q = clamp(round(v / d), −127, 127), stored as 8-bit two's complement.
 * - q4:  d = f32(absmax / 7),   q = clamp(round(v / d), −7, 7) + 8, stored as a 4-bit unsigned code.
 * - nf4: scale = absmax (already an f32), index = the NF4 code nearest to v / absmax.
 * q is computed from the f32-rounded scale, the one the GPU multiplies by. `round` is round-half-away-from-zero,
 * so quantization is symmetric in sign. A group whose absmax is 0 (or whose scale underflows to 0 in f32)
 * stores scale 0 and the code for zero (q8 0, q4 8, nf4 7); padding slots k ≥ inFeatures hold the same
 * zero code.
 */

import {
  FORMAT_SPECS,
  NF4_CODEBOOK,
  WEIGHT_FORMATS,
  WEIGHT_LAYOUTS,
  packedWordCount,
  paddedInFeatures,
  scaleCount,
  type PackedWeight,
  type WeightFormat,
  type WeightLayout,
} from './weight-format';

/** Index of 0.0 in NF4_CODEBOOK. */
const NF4_ZERO_INDEX = 7;

/**
 * Relative slack (times the group absmax) added to every quantized error bound. It covers
 * (1) rounding the scale to f32 (relative error ≤ 2⁻²⁴, which can move q·d by at most |q|·d·2⁻²⁴ ≤ absmax·2⁻²⁴·(1+ε))
 * and (2) rounding the decoded product q·d (or NF4[i]·absmax) to f32 (≤ absmax·2⁻²⁴).
 * 2⁻²² leaves a factor two of headroom over their sum.
 */
export const F32_SCALE_SLACK = 2 ** -22;

/** Smallest positive normal f32. Scales below it may be flushed to zero by GPUs. */
const F32_MIN_NORMAL = 2 ** -126;

/** Half of the largest gap between adjacent NF4 codes (the gap between −1 and the next code). */
export const NF4_HALF_MAX_GAP: number = (() => {
  let gap = 0;
  for (let i = 1; i < NF4_CODEBOOK.length; i++) gap = Math.max(gap, NF4_CODEBOOK[i] - NF4_CODEBOOK[i - 1]);
  return gap / 2;
})();

function assertFormatAndLayout(fn: string, name: string, format: WeightFormat, layout: WeightLayout): void {
  if (!WEIGHT_FORMATS.includes(format)) {
    throw new RangeError(`${fn}(${name}): unknown format '${String(format)}', expected one of ${WEIGHT_FORMATS.join(', ')}`);
  }
  if (!WEIGHT_LAYOUTS.includes(layout)) {
    throw new RangeError(`${fn}(${name}): unknown layout '${String(layout)}', expected one of ${WEIGHT_LAYOUTS.join(', ')}`);
  }
}

function assertDim(fn: string, name: string, dim: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${fn}(${name}): ${dim} must be a positive integer, got ${value}`);
  }
}

/** Round half away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Index of the NF4 code nearest to t (ties go to the lower index). */
function nearestNf4(t: number): number {
  let best = 0;
  let bestDist = Infinity;
  for (let i = 0; i < NF4_CODEBOOK.length; i++) {
    const dist = Math.abs(t - NF4_CODEBOOK[i]);
    if (dist < bestDist) {
      bestDist = dist;
      best = i;
    }
  }
  return best;
}

/** Word and scale indices of logical element (n, k), k < paddedIn, for a quantized format. */
function quantizedIndices(
  format: WeightFormat,
  layout: WeightLayout,
  outFeatures: number,
  paddedIn: number,
  n: number,
  k: number,
): { word: number; shift: number; scale: number } {
  const { bits, valuesPerWord: vpw, groupSize } = FORMAT_SPECS[format];
  const w = Math.floor(k / vpw);
  const g = Math.floor(k / groupSize);
  const shift = (k % vpw) * bits;
  if (layout === 'linear') {
    return { word: n * (paddedIn / vpw) + w, shift, scale: n * (paddedIn / groupSize) + g };
  }
  return { word: w * outFeatures + n, shift, scale: g * outFeatures + n };
}

/**
 * Packs a frozen weight for the GPU.
 *
 * @param values The weight in its source layout: 'linear' = [out, in] row-major, 'conv1d' = [in, out] row-major.
 * @param name Tensor name used in error messages.
 */
export function packWeight(
  values: Float32Array,
  outFeatures: number,
  inFeatures: number,
  format: WeightFormat,
  layout: WeightLayout,
  name = 'weight',
): PackedWeight {
  const fn = 'packWeight';
  assertFormatAndLayout(fn, name, format, layout);
  assertDim(fn, name, 'outFeatures', outFeatures);
  assertDim(fn, name, 'inFeatures', inFeatures);
  const N = outFeatures;
  const K = inFeatures;
  const shape = layout === 'linear' ? `out·in = ${N}·${K}` : `in·out = ${K}·${N}`;
  if (values.length !== N * K) {
    throw new RangeError(`${fn}(${name}): values has ${values.length} elements, expected ${shape} = ${N * K}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      const [n, k] = layout === 'linear' ? [Math.floor(i / K), i % K] : [i % N, Math.floor(i / N)];
      throw new RangeError(
        `${fn}(${name}): value at index ${i} (n=${n}, k=${k}) is ${values[i]}, expected a finite number`,
      );
    }
  }

  const paddedIn = paddedInFeatures(format, K);
  const words = new Uint32Array(packedWordCount(format, N, K));
  const scales = new Float32Array(scaleCount(format, N, K));

  if (format === 'f32') {
    // Bit copy in the source layout.
    new Float32Array(words.buffer).set(values);
    return { format, layout, outFeatures: N, inFeatures: K, paddedIn, words, scales };
  }

  const { bits, groupSize } = FORMAT_SPECS[format];
  const mask = (1 << bits) - 1;
  const at = layout === 'linear' ? (n: number, k: number) => values[n * K + k] : (n: number, k: number) => values[k * N + n];
  const group = new Float64Array(groupSize);

  for (let n = 0; n < N; n++) {
    for (let k0 = 0; k0 < paddedIn; k0 += groupSize) {
      let absmax = 0;
      for (let j = 0; j < groupSize; j++) {
        const k = k0 + j;
        const v = k < K ? at(n, k) : 0;
        group[j] = v;
        absmax = Math.max(absmax, Math.abs(v));
      }
      // absmax is an f32 already; the q8/q4 scale is rounded to f32 here.
      const scale = format === 'q8' ? Math.fround(absmax / 127) : format === 'q4' ? Math.fround(absmax / 7) : absmax;
      for (let j = 0; j < groupSize; j++) {
        const v = group[j];
        let code: number;
        if (format === 'q8') {
          const q = scale === 0 ? 0 : Math.min(127, Math.max(-127, roundHalfAway(v / scale)));
          code = q & 0xff;
        } else if (format === 'q4') {
          const q = scale === 0 ? 0 : Math.min(7, Math.max(-7, roundHalfAway(v / scale)));
          code = q + 8;
        } else {
          code = scale === 0 ? NF4_ZERO_INDEX : nearestNf4(v / scale);
        }
        const idx = quantizedIndices(format, layout, N, paddedIn, n, k0 + j);
        words[idx.word] = (words[idx.word] | ((code & mask) << idx.shift)) >>> 0;
        scales[idx.scale] = scale;
      }
    }
  }
  return { format, layout, outFeatures: N, inFeatures: K, paddedIn, words, scales };
}

function assertPacked(fn: string, p: PackedWeight): void {
  const name = 'packed weight';
  assertFormatAndLayout(fn, name, p.format, p.layout);
  assertDim(fn, name, 'outFeatures', p.outFeatures);
  assertDim(fn, name, 'inFeatures', p.inFeatures);
  const paddedIn = paddedInFeatures(p.format, p.inFeatures);
  if (p.paddedIn !== paddedIn) {
    throw new RangeError(`${fn}: paddedIn is ${p.paddedIn}, expected ${paddedIn} for ${p.format} with in = ${p.inFeatures}`);
  }
  const wc = packedWordCount(p.format, p.outFeatures, p.inFeatures);
  if (p.words.length !== wc) {
    throw new RangeError(
      `${fn}: words has ${p.words.length} elements, expected ${wc} for ${p.format} ${p.outFeatures}×${p.inFeatures}`,
    );
  }
  const sc = scaleCount(p.format, p.outFeatures, p.inFeatures);
  if (p.scales.length !== sc) {
    throw new RangeError(
      `${fn}: scales has ${p.scales.length} elements, expected ${sc} for ${p.format} ${p.outFeatures}×${p.inFeatures}`,
    );
  }
}

/** Decodes one element without validating p; k may lie in the padding (k < paddedIn). */
function decodeUnchecked(p: PackedWeight, n: number, k: number): number {
  if (p.format === 'f32') {
    const word = p.layout === 'linear' ? p.words[n * p.inFeatures + k] : p.words[k * p.outFeatures + n];
    const f = new Float32Array(new Uint32Array([word]).buffer);
    return f[0];
  }
  const { bits } = FORMAT_SPECS[p.format];
  const idx = quantizedIndices(p.format, p.layout, p.outFeatures, p.paddedIn, n, k);
  const code = (p.words[idx.word] >>> idx.shift) & ((1 << bits) - 1);
  const scale = p.scales[idx.scale];
  // The GPU multiplies in f32: fround mirrors its single rounding of the product.
  if (p.format === 'q8') return Math.fround((code >= 128 ? code - 256 : code) * scale);
  if (p.format === 'q4') return Math.fround((code - 8) * scale);
  return Math.fround(NF4_CODEBOOK[code] * scale);
}

/**
 * Decodes logical element W[n, k] from the packed words/scales. k may be in the padding
 * (inFeatures ≤ k < paddedIn), which must decode to 0.
 */
export function dequantizeElement(p: PackedWeight, n: number, k: number): number {
  assertPacked('dequantizeElement', p);
  if (!Number.isInteger(n) || n < 0 || n >= p.outFeatures) {
    throw new RangeError(`dequantizeElement: n = ${n} out of range [0, ${p.outFeatures})`);
  }
  const kMax = p.format === 'f32' ? p.inFeatures : p.paddedIn;
  if (!Number.isInteger(k) || k < 0 || k >= kMax) {
    throw new RangeError(`dequantizeElement: k = ${k} out of range [0, ${kMax})`);
  }
  return decodeUnchecked(p, n, k);
}

/**
 * Decodes a packed weight from its words and scales alone into the logical W as [out, in] row-major
 * (conv1d is transposed). Values are what the GPU decoder computes: the f32 product of code and scale.
 */
export function dequantizeWeight(p: PackedWeight): Float64Array {
  assertPacked('dequantizeWeight', p);
  const N = p.outFeatures;
  const K = p.inFeatures;
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) out[n * K + k] = decodeUnchecked(p, n, k);
  }
  return out;
}

/**
 * Per-element bound on |w − ŵ| for a group whose largest |w| is `absmax`:
 * - f32: 0 (exact).
 * - q8:  d/2 with d = absmax/127;  q4: d/2 with d = absmax/7.
 * - nf4: absmax · (half the largest gap between adjacent NF4 codes) = absmax · 0.1519….
 * Quantized formats add absmax · F32_SCALE_SLACK for the f32 rounding of the scale and of the decoded product.
 * When the scale would be subnormal in f32 (absmax/127 resp. absmax/7 resp. absmax < 2⁻¹²⁶), a GPU may flush it
 * to zero, so the bound is absmax itself.
 */
export function quantizationErrorBound(format: WeightFormat, absmax: number): number {
  if (!WEIGHT_FORMATS.includes(format)) {
    throw new RangeError(`quantizationErrorBound: unknown format '${String(format)}'`);
  }
  if (!(absmax >= 0) || !Number.isFinite(absmax)) {
    throw new RangeError(`quantizationErrorBound: absmax must be finite and ≥ 0, got ${absmax}`);
  }
  if (format === 'f32') return 0;
  const d = format === 'q8' ? absmax / 127 : format === 'q4' ? absmax / 7 : absmax;
  if (d < F32_MIN_NORMAL) return absmax;
  const base = format === 'nf4' ? absmax * NF4_HALF_MAX_GAP : d / 2;
  return base + absmax * F32_SCALE_SLACK;
}
