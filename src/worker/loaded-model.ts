/**
 * The base model a worker holds between requests: loaded once (`model-load`), then trained on, generated from and
 * exported against. Also the summary the Model panel shows.
 */
import type { GpuContext } from '../gpu/device';
import { GpuModel } from '../engine/gpu-model';
import { plannedWeightMemory } from '../engine/weight-memory';
import { WEIGHT_FORMATS, type WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import { generationDefaults, type GenerationDefaults } from '../model/sampling';
import type { HostWeights } from '../model/weight-names';
import { loadModel, type LoadProgress } from '../model-io/load-model';
import { loadTokenizer, type TextTokenizer } from '../model-io/tokenizer';
import { resolveModelSpec } from './model-spec';
import type { ModelInfo, TrainModelSpec } from './protocol';
import type { TrainingBase } from '../trainer/training-run';

/** A base model as training needs it (TrainingBase), plus what the studio shows and generates with. */
export interface LoadedBase extends TrainingBase {
  spec: TrainModelSpec;
  generation: GenerationDefaults;
  info: ModelInfo;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * Reads a model (config, checkpoint, tokenizer) and uploads it with W0 in `format`. Progress comes at most every
 * 250 ms per phase, and always at the end of each file.
 */
export async function loadBase(
  gpu: GpuContext,
  spec: TrainModelSpec,
  format: WeightFormat,
  report: (p: LoadProgress & { source: string }) => void,
): Promise<LoadedBase> {
  const { source, nameOrPath, revision } = await resolveModelSpec(spec, (message) => report({ phase: 'config', message, source: '' }));
  let lastPhase = '';
  let lastAt = 0;
  const onProgress = (p: LoadProgress) => {
    const now = performance.now();
    const fileDone = p.loaded !== undefined && p.total != null && p.loaded >= p.total;
    if (p.message === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS && !fileDone) return;
    lastPhase = p.message;
    lastAt = now;
    report({ ...p, source: source.description });
  };
  const loaded = await loadModel(source, { onProgress });
  const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
  const generation = generationDefaults(loaded.generationConfig);
  report({ phase: 'weights', message: `uploading the weights to the GPU (W0 in ${format})`, source: source.description });
  const model = GpuModel.upload(gpu, loaded.config, loaded.weights, format);
  const info = describeModel(loaded.config, loaded.weights, nameOrPath, source.description, format, tokenizer, generation);
  return { gpu, spec, config: loaded.config, weights: loaded.weights, tokenizer, model, format, nameOrPath, revision, source: source.description, generation, info };
}

export function describeModel(
  c: ModelConfig,
  weights: HostWeights,
  nameOrPath: string,
  source: string,
  format: WeightFormat,
  tokenizer: TextTokenizer,
  generation: GenerationDefaults,
): ModelInfo {
  let parameters = 0;
  for (const t of weights.values()) parameters += t.data.length;
  const weightBytes = {} as Record<WeightFormat, number>;
  for (const f of WEIGHT_FORMATS) weightBytes[f] = plannedWeightMemory(c, f).total;
  return {
    nameOrPath,
    source,
    modelType: c.modelType,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    vocabSize: c.vocabSize,
    contextLength: c.maxPositions,
    parameters,
    format,
    weightBytes,
    hasChatTemplate: (tokenizer.applyChatTemplate?.([{ role: 'user', content: 'x' }]) ?? null) !== null,
    eosTokenId: tokenizer.eosTokenId,
    generation,
    config: c,
  };
}
