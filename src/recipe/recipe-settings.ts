/**
 * recipe.json: every setting of the exported run, once. train.py reads it and nothing else. Training settings carry
 * the names of transformers' TrainingArguments wherever one exists, so a reader can map them without this file.
 */
import type { RecordShape } from '../data/records';
import type { WeightFormat } from '../kernels/weight-format';
import type { ModelConfig, ModelType } from '../model/config';
import type { MethodId } from '../methods/method';
import type { RunOptions } from '../options/run-fields';
import type { LrScheduleKind } from '../trainer/lr-schedule';
import type { TrainingSettings } from '../trainer/trainer';
import { quantizationOf, type RecipeQuantization } from './quantization';
import { STUDIO_VERSION } from './studio-version';

export const RECIPE_FILE = 'recipe.json';
/** The records as the studio read them, normalized (see data-files.ts). */
export const RECORDS_FILE = 'data/records.jsonl';
/** The studio computes in float32; the recipe loads the base in it so that the results carry over. */
export const RECIPE_DTYPE = 'float32';

/**
 * transformers' lr_scheduler_type for each studio schedule; each lambda was compared with transformers'
 * optimization.py (5.18) and is the same formula (src/trainer/lr-schedule.ts). 'constant' maps to
 * 'constant_with_warmup': transformers' 'constant' ignores warmup_steps, the studio's does not.
 */
export const LR_SCHEDULER_TYPES: Readonly<Record<LrScheduleKind, string>> = {
  constant: 'constant_with_warmup',
  linear: 'linear',
  cosine: 'cosine',
};

/** The transformers class of one decoder block: FSDP wraps each in its own shard unit. */
export const DECODER_LAYER_CLASSES: Readonly<Record<ModelType, string>> = {
  gpt2: 'GPT2Block',
  llama: 'LlamaDecoderLayer',
  qwen2: 'Qwen2DecoderLayer',
};

/** Which tokens the loss counts, per record shape (src/data/tokenize.ts). */
export type LossMask = 'all-tokens' | 'completion-only' | 'assistant-only';

export function lossMaskOf(shape: RecordShape): LossMask {
  switch (shape) {
    case 'text':
      return 'all-tokens';
    case 'prompt-completion':
    case 'alpaca':
      return 'completion-only';
    case 'messages':
      return 'assistant-only';
  }
}

export interface RecipeTraining {
  learning_rate: number;
  lr_scheduler_type: string;
  warmup_steps: number;
  /** −1: num_train_epochs decides (transformers' convention; the studio writes 0). */
  max_steps: number;
  num_train_epochs: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  /** 0: no clipping (as in transformers). */
  max_grad_norm: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  seed: number;
  /** Examples are cut to this many tokens (TRL's max_length). */
  max_length: number;
  /** LoRA+: lora_B's learning rate is learning_rate times this (1 = plain). */
  loraplus_lr_ratio: number;
  /** The fraction of the examples held out for the validation loss (the studio's seeded split). */
  val_split: number;
  /** Evaluate every N steps; 0 = only at the end. */
  eval_steps: number;
  /** Save a checkpoint every N steps; 0 = never. */
  save_steps: number;
  /** Recompute each layer in the backward instead of keeping its activations. */
  gradient_checkpointing: boolean;
}

export interface RecipeJson {
  studio_version: string;
  base: { name_or_path: string; revision: string | null; model_type: ModelType; decoder_layer_class: string };
  method: MethodId;
  /** adapter_config.json's peft_type; null for bottleneck adapters (AdapterHub's format has none). */
  peft_type: string | null;
  /** The adapter_config.json object the studio's export writes for this method and options. */
  adapter_config: Record<string, unknown>;
  /** The dtype the base model is loaded and computed in. */
  dtype: string;
  training: RecipeTraining;
  data: {
    source: string;
    shape: RecordShape;
    records_file: string;
    records: number;
    loss_mask: LossMask;
    /** Leave out records with nothing to learn from (and say how many) instead of stopping, as the studio's run did. */
    skip_bad_records: boolean;
  };
  quantization: RecipeQuantization | null;
}

export interface RecipeSettingsInput {
  base: { nameOrPath: string; revision: string | null };
  model: ModelConfig;
  method: MethodId;
  peftType: string | null;
  adapterConfig: Record<string, unknown>;
  training: TrainingSettings;
  run: RunOptions;
  weightFormat: WeightFormat;
  data: { source: string; shape: RecordShape; records: number };
}

export function recipeJson(input: RecipeSettingsInput): RecipeJson {
  const t = input.training;
  return {
    studio_version: STUDIO_VERSION,
    base: {
      name_or_path: input.base.nameOrPath,
      revision: input.base.revision,
      model_type: input.model.modelType,
      decoder_layer_class: DECODER_LAYER_CLASSES[input.model.modelType],
    },
    method: input.method,
    peft_type: input.peftType,
    adapter_config: input.adapterConfig,
    dtype: RECIPE_DTYPE,
    training: {
      learning_rate: t.lr,
      lr_scheduler_type: LR_SCHEDULER_TYPES[t.schedule],
      warmup_steps: t.warmupSteps,
      max_steps: t.maxSteps > 0 ? t.maxSteps : -1,
      num_train_epochs: t.epochs,
      per_device_train_batch_size: t.batchSize,
      gradient_accumulation_steps: t.gradAccum,
      max_grad_norm: t.maxGradNorm,
      weight_decay: t.weightDecay,
      adam_beta1: t.beta1,
      adam_beta2: t.beta2,
      adam_epsilon: t.eps,
      seed: t.seed,
      max_length: input.run.maxLength,
      loraplus_lr_ratio: t.loraplusLrRatio,
      val_split: input.run.valSplit,
      eval_steps: t.evalEvery,
      save_steps: t.checkpointEvery,
      gradient_checkpointing: t.gradientCheckpointing,
    },
    data: {
      source: input.data.source,
      shape: input.data.shape,
      records_file: RECORDS_FILE,
      records: input.data.records,
      loss_mask: lossMaskOf(input.data.shape),
      skip_bad_records: input.run.skipBadRecords,
    },
    quantization: quantizationOf(input.weightFormat, RECIPE_DTYPE),
  };
}
