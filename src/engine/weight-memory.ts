/**
 * The GPU memory of a model's weights in each format, from config.json alone (no GPU, no weights): what GpuModel
 * will allocate (a test checks it against the buffers), what the memory plan and the Model step show.
 */
import { weightBytes, type WeightFormat } from '../kernels/weight-format';
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';
import { linearModules } from '../model/weight-names';

export interface WeightMemory {
  /** Bytes of the quantized (or f32) linear weights W0. */
  linear: number;
  /** Embedding tables (token, and position for GPT-2), f32. */
  embeddings: number;
  /** Norm parameters, biases and an untied lm_head. */
  other: number;
  total: number;
}

/** Bytes each part of the model will take on the GPU in `format`, computed before uploading. */
export function plannedWeightMemory(c: ModelConfig, format: WeightFormat): WeightMemory {
  let linear = 0;
  let other = 0;
  for (const m of linearModules(c)) {
    linear += weightBytes(format, m.outFeatures, m.inFeatures);
    if (m.hasBias) other += 4 * m.outFeatures;
  }
  const d = c.hiddenSize;
  const arch = architectureOf(c);
  const embeddings = 4 * c.vocabSize * d + (arch.names.positionEmbedding ? 4 * c.maxPositions * d : 0);
  const normParams = arch.norm === 'layernorm' ? 2 : 1;
  other += 4 * d * normParams * (2 * c.numLayers + 1);
  if (!c.tieWordEmbeddings) linear += weightBytes(format, c.vocabSize, d);
  return { linear, embeddings, other, total: linear + embeddings + other };
}
