/** A frozen weight W0 uploaded to the GPU in its packed format (see weight-format.ts for the layout), or an f32 view of a trainable tensor. */
import { uploadStorage } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { placeholderBuffer } from './dispatch';
import { formatShape, type GpuTensor } from './tensor';
import {
  FORMAT_SPECS,
  packedWordCount,
  paddedInFeatures,
  scaleCount,
  weightBytes,
  type PackedWeight,
  type WeightFormat,
  type WeightLayout,
} from './weight-format';

export interface GpuWeight {
  name: string;
  format: WeightFormat;
  layout: WeightLayout;
  outFeatures: number;
  inFeatures: number;
  paddedIn: number;
  words: GPUBuffer;
  /** Scales plane; a 4-byte placeholder for f32, which has none. */
  scales: GPUBuffer;
  /** Bytes of W0 on the GPU (words + scales). */
  bytes: number;
}

export function checkPackedWeight(p: PackedWeight, name: string): void {
  const words = packedWordCount(p.format, p.outFeatures, p.inFeatures);
  const scales = scaleCount(p.format, p.outFeatures, p.inFeatures);
  if (p.paddedIn !== paddedInFeatures(p.format, p.inFeatures)) {
    throw new ShapeError(`weight "${name}": paddedIn ${p.paddedIn}, expected ${paddedInFeatures(p.format, p.inFeatures)}`);
  }
  if (p.words.length !== words) {
    throw new ShapeError(
      `weight "${name}" (${p.format}, [out ${p.outFeatures}, in ${p.inFeatures}]): ${p.words.length} packed words, expected ${words}`,
    );
  }
  if (p.scales.length !== scales) {
    throw new ShapeError(`weight "${name}" (${p.format}): ${p.scales.length} scales, expected ${scales}`);
  }
}

export function uploadWeight(device: GPUDevice, p: PackedWeight, name: string): GpuWeight {
  checkPackedWeight(p, name);
  return {
    name,
    format: p.format,
    layout: p.layout,
    outFeatures: p.outFeatures,
    inFeatures: p.inFeatures,
    paddedIn: p.paddedIn,
    words: uploadStorage(device, p.words, `${name}.words`),
    scales: uploadStorage(device, p.scales, `${name}.scales`),
    bytes: weightBytes(p.format, p.outFeatures, p.inFeatures),
  };
}

/** Uniform values every W0-reading kernel needs. */
export function weightGeometry(w: GpuWeight): { wordsPerRow: number; groupsPerRow: number } {
  const spec = FORMAT_SPECS[w.format];
  return { wordsPerRow: w.paddedIn / spec.valuesPerWord, groupsPerRow: w.paddedIn / spec.groupSize };
}

export function destroyWeight(w: GpuWeight): void {
  w.words.destroy();
  w.scales.destroy();
}

/**
 * A trainable f32 tensor [out, in] (nn.Linear orientation) seen as an f32 weight, so the linear kernels can
 * multiply by it. The view shares the tensor's buffer and owns no memory (bytes 0); never destroy it.
 */
export function f32WeightView(device: GPUDevice, t: GpuTensor): GpuWeight {
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    throw new ShapeError(`weight view of "${t.name}": expected a non-empty 2-D [out, in] tensor, got ${formatShape(t.shape)}`);
  }
  const [outFeatures, inFeatures] = t.shape;
  return {
    name: t.name, format: 'f32', layout: 'linear', outFeatures, inFeatures, paddedIn: inFeatures,
    words: t.buffer, scales: placeholderBuffer(device), bytes: 0,
  };
}
