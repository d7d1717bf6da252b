/**
 * One training run, the same for the command line (src/cli/commands/train.ts) and the studio's worker
 * (src/worker/train-session.ts): from a dataset's text, a base model and the run's options to a trained LoRA adapter,
 * its files in PEFT's format and the step log.
 *
 * The steps: parse the data and refuse bad records (before the model loads, so that a bad record fails before any
 * download), load the base model, tokenize, split off the validation examples, build the LoraConfig (or take the
 * adapter to continue), resolve its targets, initialise it, put it on the GPU, drive a Trainer (checkpoints in the
 * store given: cleared for a new run, restored for a resumed one), export the adapter.
 *
 * What differs between the callers comes in as parameters: how the model loads, where the log lines go, the
 * checkpoint store, what to do with each trainer event, and what to do with the Trainer once it exists (the worker
 * pauses, resumes and stops it through `onTrainer`). Every call into the engine and PEFT modules that a run makes is
 * in this module.
 */
import type { GpuContext } from '../gpu/device';
import { destroyQuietly } from '../gpu/errors';
import type { GpuModel } from '../engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../methods/lora/gpu';
import type { WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import type { HostWeights } from '../model/weight-names';
import type { TextTokenizer } from '../model-io/tokenizer';
import { assertNoProblems, parseDataset, parsePastedText, splitValidation, tokenizeRecords } from '../data/index';
import { makeLoraConfig, type LoraConfig } from '../peft/lora-config';
import { resolveLoraTargets, type ResolvedTarget } from '../peft/lora-targets';
import { initLoraWeights } from '../peft/lora-init';
import { exportLoraAdapter } from '../peft/adapter-files';
import { countParameters, trainableParametersLine } from '../peft/trainable-params';
import type { LoraOptions } from '../options/lora-fields';
import type { RunOptions } from '../options/run-fields';
import type { CheckpointStore } from './checkpoint';
import { Trainer, type StepLog, type TrainerEvent, type TrainingSettings } from './trainer';

/** What a log line is about. */
export type TrainLogPhase = 'model' | 'data' | 'lora' | 'checkpoint' | 'export';

/** A base model loaded for training, on the GPU. */
export interface TrainingBase {
  gpu: GpuContext;
  config: ModelConfig;
  /** The host copy of the weights (biases seed a trainable bias with bias="lora_only"). */
  weights: HostWeights;
  tokenizer: TextTokenizer;
  model: GpuModel;
  /** W0's format on the GPU. */
  format: WeightFormat;
  /** What adapter_config.json's base_model_name_or_path and revision say. */
  nameOrPath: string;
  revision: string | null;
  /** Where the model was read from, for the log. */
  source: string;
}

/** An existing LoRA adapter to continue training; its config replaces the run's LoRA options. */
export interface StartingAdapter {
  config: LoraConfig;
  targets: ResolvedTarget[];
  weights: Map<string, { a: Float32Array; b: Float32Array }>;
  biases?: Map<string, Float32Array>;
  /** Names it in the log line "continuing from <description> (…)", e.g. "the adapter out/run1". */
  description: string;
}

export interface TrainingRunSpec {
  /** The dataset's text, and its file name (whose extension picks the format; also names it in messages). No file name: pasted text. */
  data: { text: string; fileName?: string };
  /** Loads the base model; called once the data has parsed. The caller frees what it loads. */
  loadBase(): Promise<TrainingBase>;
  /** A new adapter with these LoRA fields (PEFT's defaults for the rest), or an existing adapter to continue. */
  lora: Partial<LoraOptions> | { continueFrom(base: TrainingBase): Promise<StartingAdapter> };
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
  lora: GpuLoraSet;
  config: LoraConfig;
  targets: ResolvedTarget[];
  /** Every step of the run, restored steps included. */
  log: StepLog[];
  reason: 'completed' | 'stopped';
  /** Steps completed. */
  step: number;
  totalSteps: number;
  resumedFromStep: number | null;
  /** The adapter as PEFT saves it, by file name: adapter_config.json, adapter_model.safetensors, README.md. */
  files: Map<string, Uint8Array>;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function startingAdapter(lora: TrainingRunSpec['lora'], base: TrainingBase, seed: number, log: TrainingRunSpec['log']): Promise<StartingAdapter | Omit<StartingAdapter, 'description'>> {
  if ('continueFrom' in lora) {
    const adapter = await lora.continueFrom(base);
    log('lora', `continuing from ${adapter.description} (r ${adapter.config.r}, ${plural(adapter.targets.length, 'module')})`);
    return adapter;
  }
  const config = makeLoraConfig(lora, base.config, { nameOrPath: base.nameOrPath, revision: base.revision });
  const targets = resolveLoraTargets(config, base.config);
  return { config, targets, weights: initLoraWeights(targets, config.init_lora_weights, seed) };
}

/** Runs the whole pipeline; throws (having freed the adapter and the trainer) on any failure. */
export async function runTraining(spec: TrainingRunSpec): Promise<TrainingRunResult> {
  const { settings, options, log } = spec;
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

  const { config, targets, weights, biases } = await startingAdapter(spec.lora, base, settings.seed, log);
  const counts = countParameters(c, targets, config.bias);
  log('lora', trainableParametersLine(counts.trainable, counts.all));
  const lora = GpuLoraSet.create(base.gpu, base.model, loraModuleInits(config, targets, weights, base.weights, { biases }));

  let trainer: Trainer | null = null;
  try {
    const store = spec.checkpoints;
    if (store && !spec.resume) {
      try {
        if (await store.clear()) log('checkpoint', `new run: deleted the earlier checkpoints of ${store.description}`);
      } catch (e) {
        if (settings.checkpointEvery > 0 || spec.checkpointAtEnd) throw e;
      }
    }
    const t = new Trainer(base.gpu, base.model, lora, train, validation, settings, base.tokenizer.padTokenId ?? 0, store);
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
    const files = exportLoraAdapter({ config, weights: await lora.readWeights(), biases: await lora.readBiases(), model: c, targets });
    return {
      base,
      lora,
      config,
      targets,
      log: t.log.map((l) => ({ ...l })),
      reason: t.step >= t.totalSteps ? 'completed' : 'stopped',
      step: t.step,
      totalSteps: t.totalSteps,
      resumedFromStep: resumedFrom,
      files,
    };
  } catch (e) {
    destroyQuietly(() => lora.destroy());
    throw e;
  } finally {
    const t = trainer;
    if (t) destroyQuietly(() => t.destroy());
  }
}
