/**
 * Formats of the frozen weight W0 on the GPU. Every format is a plane of u32 words plus, for the quantized
 * ones, a separate plane of f32 scales. The exact bit layout below is a contract between the CPU packers
 * (`quantize.ts`), the CPU dequantizer (the reference) and the WGSL decoder (`weight_decode.wgsl`).
 *
 * Logical weight: W[n, k] with n < outFeatures and k < inFeatures (nn.Linear orientation).
 *
 * Layouts (how the source tensor was stored, kept as is on the GPU):
 * - 'linear': nn.Linear, stored [out, in].
 * - 'conv1d': GPT-2's Conv1D (fan_in_fan_out), stored [in, out].
 *
 * f32: one value per word (the f32 bits), in the source layout: linear word n·K + k, conv1d word k·N + n.
 *
 * Quantized formats group values along the input dimension k. K is padded with zeros to a multiple of the
 * group size: paddedIn = ceil(K / groupSize) · groupSize. Value k of row n sits in word w = ⌊k / vpw⌋ at
 * slot k mod vpw, bits [slot·bits, slot·bits + bits), where vpw = values per word.
 * - linear: word index n·(paddedIn/vpw) + w, scale index n·(paddedIn/groupSize) + ⌊k/groupSize⌋.
 * - conv1d: word index w·N + n,               scale index ⌊k/groupSize⌋·N + n.
 * Decoding:
 * - q8:  8-bit two's-complement q in [−127, 127]; value = q · d, d = absmax / 127.   Groups of 32.
 * - q4:  4-bit q in [1, 15];                   value = (q − 8) · d, d = absmax / 7.  Groups of 32.
 * - nf4: 4-bit index i;                        value = NF4[i] · absmax.             Blocks of 64.
 */

export type WeightFormat = 'f32' | 'q8' | 'q4' | 'nf4';
export type WeightLayout = 'linear' | 'conv1d';

export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'q8', 'q4', 'nf4'];
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = ['linear', 'conv1d'];

export interface FormatSpec {
  /** Numeric code used as the WGSL override FORMAT. */
  code: number;
  bits: number;
  /** Values packed in one u32 word. */
  valuesPerWord: number;
  /** Values sharing one scale (1 for f32, which has no scales). */
  groupSize: number;
}

export const FORMAT_SPECS: Record<WeightFormat, FormatSpec> = {
  f32: { code: 0, bits: 32, valuesPerWord: 1, groupSize: 1 },
  q8: { code: 1, bits: 8, valuesPerWord: 4, groupSize: 32 },
  q4: { code: 2, bits: 4, valuesPerWord: 8, groupSize: 32 },
  nf4: { code: 3, bits: 4, valuesPerWord: 8, groupSize: 64 },
};

export const LAYOUT_CODES: Record<WeightLayout, number> = { linear: 0, conv1d: 1 };

/**
 * QLoRA's NormalFloat-4 code book (Dettmers et al. 2023; bitsandbytes' NF4 table), ascending, index 7 is 0.
 */
export const NF4_CODEBOOK: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

/** A frozen weight packed on the CPU, ready to upload. */
export interface PackedWeight {
  format: WeightFormat;
  layout: WeightLayout;
  outFeatures: number;
  inFeatures: number;
  /** inFeatures rounded up to the group size (equal to inFeatures for f32). */
  paddedIn: number;
  words: Uint32Array;
  /** One f32 scale per group; empty for f32. */
  scales: Float32Array;
}

export function paddedInFeatures(format: WeightFormat, inFeatures: number): number {
  const g = FORMAT_SPECS[format].groupSize;
  return Math.ceil(inFeatures / g) * g;
}

/** Words of the packed plane for a weight of this size. */
export function packedWordCount(format: WeightFormat, outFeatures: number, inFeatures: number): number {
  const spec = FORMAT_SPECS[format];
  return (outFeatures * paddedInFeatures(format, inFeatures)) / spec.valuesPerWord;
}

export function scaleCount(format: WeightFormat, outFeatures: number, inFeatures: number): number {
  if (format === 'f32') return 0;
  return (outFeatures * paddedInFeatures(format, inFeatures)) / FORMAT_SPECS[format].groupSize;
}

/** Bytes W0 occupies on the GPU in this format (words plus scales). */
export function weightBytes(format: WeightFormat, outFeatures: number, inFeatures: number): number {
  return 4 * (packedWordCount(format, outFeatures, inFeatures) + scaleCount(format, outFeatures, inFeatures));
}
