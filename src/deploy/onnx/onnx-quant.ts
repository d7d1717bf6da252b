/**
 * Weight quantization of an ONNX export's linear layers, as transformers.js's quantized files hold them:
 * - q8 (`model_quantized.onnx`, and `decoder_model_merged_quantized.onnx` for @xenova/transformers 2): int8 with
 *   one scale per output channel (symmetric, zero point 0), dequantized by DequantizeLinear before the MatMul;
 * - q4 (`model_q4.onnx`): com.microsoft MatMulNBits, 4 bits in blocks of 32 along the input, with a scale and a
 *   4-bit zero point per block (asymmetric), which onnxruntime-web's wasm and WebGPU EPs run.
 * Each quantizer also returns the weight it stands for, dequantized, so tests can run the float64 reference on
 * exactly the values the ONNX model computes with.
 */

/** The quantized formats of an ONNX export; 'none' is float32. */
export const ONNX_QUANTS = ['none', 'q8', 'q4'] as const;
export type OnnxQuant = (typeof ONNX_QUANTS)[number];

export interface Q8Weight {
  /** Wᵀ as int8, [in, out] row-major. */
  q: Int8Array;
  /** One scale per output channel. */
  scale: Float32Array;
  /** The dequantized Wᵀ, [in, out]. */
  dequantized: Float32Array;
}

/** Symmetric per-output-channel int8 of Wᵀ given as [K = in, N = out]. */
export function quantizeQ8(wT: Float32Array, K: number, N: number): Q8Weight {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(wT[k * N + n]));
  }
  for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? scale[n] / 127 : 1;
  const q = new Int8Array(K * N);
  const dequantized = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const i = k * N + n;
      const v = Math.max(-127, Math.min(127, Math.round(wT[i] / scale[n])));
      q[i] = v;
      dequantized[i] = v * scale[n];
    }
  }
  return { q, scale, dequantized };
}

/** MatMulNBits' block size along the input (a power of two, at least 16). */
export const Q4_BLOCK = 32;

export interface Q4Weight {
  /** [N, blocks, Q4_BLOCK / 2]: two 4-bit values per byte, the first in the low nibble. */
  packed: Uint8Array;
  /** [N × blocks]. */
  scales: Float32Array;
  /** [N × ceil(blocks / 2)]: 4-bit zero points, packed the same way. */
  zeroPoints: Uint8Array;
  blocks: number;
  /** The dequantized W, [N = out, K = in]. */
  dequantized: Float32Array;
}

/** Asymmetric 4-bit quantization of W given as [N = out, K = in], in blocks of Q4_BLOCK along K (the last one padded). */
export function quantizeQ4(w: Float32Array, N: number, K: number): Q4Weight {
  const blocks = Math.ceil(K / Q4_BLOCK);
  const blob = Q4_BLOCK / 2;
  const zpStride = Math.ceil(blocks / 2);
  const packed = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  const zeroPoints = new Uint8Array(N * zpStride);
  const dequantized = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * Q4_BLOCK;
      const k1 = Math.min(K, k0 + Q4_BLOCK);
      // The range always holds 0, so the padding (zeros) is exact.
      let lo = 0;
      let hi = 0;
      for (let k = k0; k < k1; k++) {
        lo = Math.min(lo, w[n * K + k]);
        hi = Math.max(hi, w[n * K + k]);
      }
      const s = hi > lo ? Math.fround((hi - lo) / 15) : 1;
      const zp = Math.max(0, Math.min(15, Math.round(-lo / s)));
      scales[n * blocks + b] = s;
      zeroPoints[n * zpStride + (b >> 1)] |= b & 1 ? zp << 4 : zp;
      for (let k = k0; k < k0 + Q4_BLOCK; k++) {
        const x = k < k1 ? w[n * K + k] : 0;
        const v = Math.max(0, Math.min(15, Math.round(x / s) + zp));
        const at = (n * blocks + b) * blob + ((k - k0) >> 1);
        packed[at] |= (k - k0) & 1 ? v << 4 : v;
        if (k < k1) dequantized[n * K + k] = Math.fround((v - zp) * s);
      }
    }
  }
  return { packed, scales, zeroPoints, blocks, dequantized };
}
