/**
 * Training a method on the tiny models through runTraining (as the CLI and the worker run it), for the GPU tests:
 * the tiny models loaded once per file, a base for the pipeline, and a four-record task that a few steps learn.
 */
import { beforeAll } from 'vitest';
import type { GpuContext } from '../../src/gpu/device';
import { GpuModel } from '../../src/engine/gpu-model';
import { loadModel, type LoadedModel } from '../../src/model-io/load-model';
import { BrowserFilesSource } from '../../src/model-io/model-source';
import { loadTokenizer } from '../../src/model-io/tokenizer';
import type { CheckpointStore } from '../../src/trainer/checkpoint';
import { DEFAULT_TRAINING, type TrainerEvent, type TrainingSettings, type Trainer } from '../../src/trainer/trainer';
import { runTraining, type NewAdapter, type TrainingBase, type TrainingRunResult } from '../../src/trainer/training-run';
import { makeTinyModel, type TinyModelKind } from '../fixtures/tiny-models';

/** Four prompt/completion records that a tiny model learns in a few steps. */
export const TASK_DATA = [
  ['cat says', ' meow'],
  ['dog says', ' woof'],
  ['cow says', ' moo'],
  ['owl says', ' hoot'],
]
  .map(([prompt, completion]) => JSON.stringify({ prompt, completion }))
  .join('\n');

/** A tiny model of a kind, read through the loader as a user's files would be. */
export async function loadTinyModel(kind: TinyModelKind): Promise<LoadedModel> {
  const files = [...makeTinyModel(kind)].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name));
  return loadModel(new BrowserFilesSource(files));
}

/** Loads the tiny models of these kinds before the file's tests; the map fills in beforeAll. */
export function useTinyModels(kinds: readonly TinyModelKind[]): Map<TinyModelKind, LoadedModel> {
  const models = new Map<TinyModelKind, LoadedModel>();
  beforeAll(async () => {
    for (const kind of kinds) models.set(kind, await loadTinyModel(kind));
  });
  return models;
}

/** A loaded tiny model on the GPU as the training pipeline's base (f32 W0). The caller destroys `base.model`. */
export function tinyBase(gpu: GpuContext, kind: TinyModelKind, m: LoadedModel): TrainingBase {
  return {
    gpu,
    config: m.config,
    weights: m.weights,
    tokenizer: loadTokenizer(m.tokenizerJson, m.tokenizerConfig),
    model: GpuModel.upload(gpu, m.config, m.weights, 'f32'),
    format: 'f32',
    nameOrPath: `tiny-${kind}`,
    revision: null,
    source: 'tiny',
  };
}

export interface TaskRun {
  adapter: NewAdapter;
  /** Overrides of the defaults: constant schedule, 8 steps of batch 4, seed 3, no checkpoints. */
  settings?: Partial<TrainingSettings>;
  checkpoints?: CheckpointStore | null;
  resume?: boolean;
  onEvent?(event: TrainerEvent, trainer: Trainer): void | Promise<void>;
}

/** Trains on TASK_DATA through runTraining (sequences of at most 32 tokens, no validation split). */
export function trainOnTask(base: TrainingBase, run: TaskRun): Promise<TrainingRunResult> {
  return runTraining({
    data: { text: TASK_DATA, fileName: 'task.jsonl' },
    loadBase: async () => base,
    adapter: run.adapter,
    settings: { ...DEFAULT_TRAINING, schedule: 'constant', maxSteps: 8, batchSize: 4, seed: 3, checkpointEvery: 0, ...run.settings },
    options: { maxLength: 32, valSplit: 0, skipBadRecords: false },
    checkpoints: run.checkpoints ?? null,
    resume: run.resume ?? false,
    checkpointAtEnd: false,
    log: () => undefined,
    onEvent: run.onEvent,
  });
}

/** The run's training losses, for assertion messages. */
export function lossLine(run: Pick<TrainingRunResult, 'log'>): string {
  return run.log.map((l) => l.loss.toFixed(3)).join(' ');
}
