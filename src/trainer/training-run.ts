/**
 * One training run, the same for the command line (src/cli/commands/train.ts) and the studio's worker
 * (src/worker/train-session.ts): from a dataset's text, a base model and the run's options to a trained adapter of
 * any PEFT method (src/methods/registry.ts), its files in PEFT's format and the step log.
 *
 * The steps: parse the data and refuse bad records (before the model loads, so that a bad record fails before any
 * download), load the base model, tokenize, split off the validation examples, build the method's adapter on the GPU
 * (or take the adapter to continue), drive a Trainer (checkpoints in the store given: cleared for a new run, restored
 * for a resumed one), export the adapter.
 *
 * What differs between the callers comes in as parameters: how the model loads, where the log lines go, the
 * checkpoint store, what to do with each trainer event, and what to do with the Trainer once it exists (the worker
 * pauses, resumes and stops it through `onTrainer`).
 */
import { adapterLine, type GpuContext } from '../gpu/device';
import { destroyQuietly } from '../gpu/errors';
import type { GpuModel } from '../engine/gpu-model';
import type { WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import type { HostWeights } from '../model/weight-names';
import type { TextTokenizer } from '../model-io/tokenizer';
import { assertNoProblems, parseDataset, parsePastedText, splitValidation, tokenizeRecords } from '../data/index';
import { MODEL_CARD_FILE } from '../peft/adapter-files';
import { trainedAdapterCard } from '../peft/training-card';
import { trainableParametersLine } from '../peft/trainable-params';
import type { MethodBase, MethodId, TrainedAdapter } from '../methods/method';
import { methodById } from '../methods/registry';
import { createAdapter } from '../methods/runtimes';
import type { RunOptions } from '../options/run-fields';
import type { CheckpointStore } from './checkpoint';
import { Trainer, TrainingConfigError, type StepLog, type TrainerEvent, type TrainingSettings } from './trainer';

/** What a log line is about. */
export type TrainLogPhase = 'model' | 'data' | 'adapter' | 'checkpoint' | 'export';

/** A base model loaded for training, on the GPU (what the methods build on, plus what the log says of it). */
export interface TrainingBase extends MethodBase {
  /** W0's format on the GPU. */
  format: WeightFormat;
  /** What adapter_config.json's revision says (null: none). */
  revision: string | null;
  /** Where the model was read from, for the log. */
  source: string;
}

/** An existing adapter to continue training (its configuration replaces the run's method options). */
export interface StartingAdapter {
  adapter: TrainedAdapter;
  /** Names it in the log line "continuing from <description> (…)", e.g. "the adapter out/run1". */
  description: string;
}

/** A new adapter of a method, with the method's options (each left out takes PEFT's default). */
export interface NewAdapter {
  method: MethodId;
  options: Readonly<Record<string, unknown>>;
}

export interface TrainingRunSpec {
  /** The dataset's text, and its file name (whose extension picks the format; also names it in messages). No file name: pasted text. */
  data: { text: string; fileName?: string };
  /** Loads the base model; called once the data has parsed. The caller frees what it loads. */
  loadBase(): Promise<TrainingBase>;
  /** A new adapter of a method, or an existing adapter to continue. */
  adapter: NewAdapter | { continueFrom(base: TrainingBase): Promise<StartingAdapter> };
  settings: TrainingSettings;
  options: Pick<RunOptions, 'maxLength' | 'valSplit' | 'skipBadRecords'>;
  /**
   * Where checkpoints go. A new run (resume false) clears it first; when it cannot be cleared (no OPFS), the run
   * goes on as long as it never saves.
   */
  checkpoints: CheckpointStore | null;
  /** Continue from the latest checkpoint in the store (from step 0 when there is none). */
  resume: boolean;
  /** Also save a checkpoint when the run ends. */
  checkpointAtEnd: boolean;
  log(phase: TrainLogPhase, message: string): void;
  /** Called once the Trainer exists (restored, when resuming), before it runs: the handle for pause, resume and stop. */
  onTrainer?(trainer: Trainer, resumedFrom: number | null): void | Promise<void>;
  /** Every trainer event, awaited. */
  onEvent?(event: TrainerEvent, trainer: Trainer): void | Promise<void>;
}

export interface TrainingRunResult {
  base: TrainingBase;
  /** The trained adapter, still on the GPU: the caller keeps it (as the worker's current adapter) or destroys it. */
  adapter: TrainedAdapter;
  /** Every step of the run, restored steps included. */
  log: StepLog[];
  reason: 'completed' | 'stopped';
  /** Steps completed. */
  step: number;
  totalSteps: number;
  resumedFromStep: number | null;
  /**
   * The adapter as PEFT saves it, by file name: adapter_config.json, adapter_model.safetensors, and README.md, the
   * model card of this run (`card`).
   */
  files: Map<string, Uint8Array>;
  /** README.md: the model card with the run's base model, method, data, settings, losses, time and GPU. */
  card: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The run's adapter on the GPU: a new one of the method asked for, or the one to continue. */
async function startingAdapter(spec: TrainingRunSpec['adapter'], base: TrainingBase, seed: number, log: TrainingRunSpec['log']): Promise<TrainedAdapter> {
  if ('continueFrom' in spec) {
    const { adapter, description } = await spec.continueFrom(base);
    const facts = adapter.plan.facts.filter(([label]) => label !== 'method').map(([label, value]) => `${label} ${value}`);
    log('adapter', `continuing from ${description} (${methodById(adapter.method).label}: ${facts.join(', ')})`);
    return adapter;
  }
  return createAdapter(base, spec.method, spec.options, seed);
}

/** LoRA+ groups `lora_B`: a ratio other than 1 is refused for another method, naming the setting. */
function checkLoraPlus(method: MethodId, ratio: number): void {
  if (ratio !== 1 && method !== 'lora') {
    throw new TrainingConfigError(
      `training setting loraplusLrRatio (--loraplus-lr-ratio) = ${ratio}: LoRA+ applies to LoRA only (it speeds up lora_B); this run trains ${methodById(method).label}. Use 1.`,
    );
  }
}

/** Runs the whole pipeline; throws (having freed the adapter and the trainer) on any failure. */
export async function runTraining(spec: TrainingRunSpec): Promise<TrainingRunResult> {
  const { settings, options, log } = spec;
  const started = performance.now();
  if ('method' in spec.adapter) checkLoraPlus(spec.adapter.method, settings.loraplusLrRatio);
  const parsed = spec.data.fileName === undefined ? parsePastedText(spec.data.text) : parseDataset(spec.data.text, spec.data.fileName);
  assertNoProblems(parsed, { allowSkip: options.skipBadRecords });
  if (parsed.problems.length > 0) log('data', `skipped ${plural(parsed.problems.length, 'bad record')} of ${parsed.source}`);
  log('data', `${parsed.source}: ${plural(parsed.records.length, 'record')}${parsed.shape ? ` of shape ${parsed.shape}` : ''}, read as ${parsed.format}`);

  const base = await spec.loadBase();
  const c = base.config;
  log('model', `model: ${base.source} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}), W0 in ${base.format}`);

  const tokenized = tokenizeRecords(parsed.records, base.tokenizer, { maxLength: options.maxLength });
  assertNoProblems({ problems: tokenized.problems, examples: tokenized.examples, lineUnit: parsed.lineUnit, source: parsed.source }, { allowSkip: options.skipBadRecords });
  if (tokenized.problems.length > 0) log('data', `skipped ${plural(tokenized.problems.length, 'record')} with nothing to learn from`);
  if (tokenized.truncated > 0) log('data', `${plural(tokenized.truncated, 'example')} cut to ${options.maxLength} tokens`);
  const { train, validation } = splitValidation(tokenized.examples, options.valSplit, settings.seed);
  log('data', `data: ${train.length} training and ${validation.length} validation examples from ${parsed.source}`);

  const adapter = await startingAdapter(spec.adapter, base, settings.seed, log);
  log('adapter', trainableParametersLine(adapter.plan.counts.trainable, adapter.plan.counts.all));

  let trainer: Trainer | null = null;
  try {
    checkLoraPlus(adapter.method, settings.loraplusLrRatio);
    if (settings.loraplusLrRatio !== 1) {
      log('adapter', `LoRA+: lora_B learns at ${settings.loraplusLrRatio} × the learning rate of lora_A (PEFT's create_loraplus_optimizer groups)`);
    }
    const store = spec.checkpoints;
    if (store && !spec.resume) {
      try {
        if (await store.clear()) log('checkpoint', `new run: deleted the earlier checkpoints of ${store.description}`);
      } catch (e) {
        if (settings.checkpointEvery > 0 || spec.checkpointAtEnd) throw e;
      }
    }
    const t = new Trainer(base.gpu, base.model, adapter, train, validation, settings, base.tokenizer.padTokenId ?? 0, store);
    trainer = t;
    let resumedFrom: number | null = null;
    if (spec.resume && store) {
      resumedFrom = await t.restore();
      log('checkpoint', resumedFrom === null ? `no checkpoint in ${store.description}; starting from step 0` : `resuming from step ${resumedFrom} (${store.description})`);
    }
    await spec.onTrainer?.(t, resumedFrom);
    await t.run((event) => spec.onEvent?.(event, t), resumedFrom);
    if (spec.checkpointAtEnd && store) log('checkpoint', `saved step ${t.step} in ${await t.saveCheckpoint()}`);

    log('export', 'exporting the adapter');
    const files = await adapter.exportFiles();
    const method = methodById(adapter.method);
    const lastVal = t.log.findLast((l) => l.val_loss !== null);
    const card = trainedAdapterCard({
      baseModel: base.nameOrPath,
      revision: base.revision,
      model: c,
      peftType: method.peftType,
      methodLabel: method.label,
      mergeable: method.merge.kind === 'merge',
      methodFacts: adapter.plan.facts.filter(([label]) => label !== 'method'),
      dataset: { source: parsed.source, format: parsed.format, records: parsed.records.length, train: train.length, validation: validation.length },
      training: {
        steps: t.step,
        batchSize: settings.batchSize,
        gradAccum: settings.gradAccum,
        lr: settings.lr,
        loraplusLrRatio: settings.loraplusLrRatio,
        schedule: settings.schedule,
        maxLength: options.maxLength,
        weightFormat: base.format,
      },
      finalLoss: t.log.at(-1)?.loss ?? null,
      finalValLoss: lastVal?.val_loss ?? null,
      seconds: (performance.now() - started) / 1000,
      gpu: adapterLine(base.gpu.report),
    });
    files.set(MODEL_CARD_FILE, new TextEncoder().encode(card));
    return {
      base,
      adapter,
      log: t.log.map((l) => ({ ...l })),
      reason: t.step >= t.totalSteps ? 'completed' : 'stopped',
      step: t.step,
      totalSteps: t.totalSteps,
      resumedFromStep: resumedFrom,
      files,
      card,
    };
  } catch (e) {
    destroyQuietly(() => adapter.destroy());
    throw e;
  } finally {
    const t = trainer;
    if (t) destroyQuietly(() => t.destroy());
  }
}
