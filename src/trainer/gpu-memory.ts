/** GPU memory a training run uses, as the studio's Training panel and `compare-methods` report it. */

/** Bytes of GPU memory per trainable parameter: the value, its gradient, and AdamW's m and v, all f32. */
export const ADAPTER_BYTES_PER_PARAM = 16;

export interface MemoryParts {
  /** The frozen weights in the format they are held in. */
  weightBytes: number;
  /** The largest activation memory a micro-batch allocated. */
  activationBytes: number;
  trainableParams: number;
}

/** GPU memory a run uses: weights + activations + the adapter with its gradient and AdamW moments. */
export function gpuMemoryBytes(parts: MemoryParts): number {
  return parts.weightBytes + parts.activationBytes + ADAPTER_BYTES_PER_PARAM * parts.trainableParams;
}
