/**
 * The training settings of a run (the Trainer's TrainingSettings), with transformers' TrainingArguments defaults
 * wherever it has one. Where ours differ, the help text says why.
 */
import { LR_SCHEDULES } from '../trainer/lr-schedule';
import type { TrainingSettings } from '../trainer/trainer';
import { defaultsOf, type Field } from './field';

export const TRAINING_FIELDS = {
  lr: {
    kind: 'number',
    flag: 'lr',
    label: 'Learning rate',
    help:
      "Peak learning rate of AdamW. Not transformers' 5e-5, which is meant for full fine-tuning: LoRA's update starts at zero " +
      '(B = 0) and needs larger steps; 2e-4 is what the LoRA and QLoRA papers train with.',
    default: 2e-4,
    defaultFrom: 'PEFT Studio',
    above: 0,
  },
  schedule: {
    kind: 'choice',
    choices: LR_SCHEDULES,
    choiceLabels: { constant: 'constant', linear: 'linear decay to 0', cosine: 'cosine decay to 0' },
    flag: 'schedule',
    label: 'Schedule',
    help: "How the learning rate changes after warmup, as transformers' schedules (`lr_scheduler_type`).",
    default: 'linear',
    defaultFrom: 'transformers',
  },
  warmupSteps: {
    kind: 'int',
    flag: 'warmup',
    label: 'Warmup steps',
    help: 'Steps over which the learning rate rises from 0 to its peak.',
    default: 0,
    defaultFrom: 'transformers',
    min: 0,
  },
  maxSteps: {
    kind: 'int',
    flag: 'steps',
    label: 'Max steps',
    help: "Optimizer steps to train; 0 = train for the number of epochs (transformers' -1).",
    default: 0,
    defaultFrom: 'transformers',
    min: 0,
  },
  epochs: {
    kind: 'number',
    flag: 'epochs',
    label: 'Epochs',
    help: 'Passes over the training examples; used when max steps is 0.',
    default: 3,
    defaultFrom: 'transformers',
    above: 0,
  },
  batchSize: {
    kind: 'int',
    flag: 'batch',
    label: 'Batch size',
    help: 'Examples per micro-batch.',
    default: 8,
    defaultFrom: 'transformers',
    min: 1,
  },
  gradAccum: {
    kind: 'int',
    flag: 'grad-accum',
    label: 'Gradient accumulation',
    help: 'Micro-batches per optimizer step (effective batch = batch size × this).',
    default: 1,
    defaultFrom: 'transformers',
    min: 1,
  },
  maxGradNorm: {
    kind: 'number',
    flag: 'max-grad-norm',
    label: 'Max gradient norm',
    help: 'Clips the global gradient norm to this (0 = no clipping).',
    default: 1,
    defaultFrom: 'transformers',
    min: 0,
    step: 0.1,
  },
  weightDecay: {
    kind: 'number',
    flag: 'weight-decay',
    label: 'Weight decay',
    help: "AdamW's decoupled weight decay.",
    default: 0,
    defaultFrom: 'transformers',
    min: 0,
  },
  loraplusLrRatio: {
    kind: 'number',
    flag: 'loraplus-lr-ratio',
    label: 'LoRA+ ratio',
    help:
      "LoRA+: `lora_B` (and 1-D parameters such as trained biases) learn at this many times the learning rate of `lora_A`, as PEFT's " +
      '`create_loraplus_optimizer` groups them (the paper suggests 16). 1 = plain LoRA. An optimizer setting, not part of ' +
      '`adapter_config.json`: the run log and the model card record it. LoRA only.',
    default: 1,
    defaultFrom: 'PEFT Studio',
    above: 0,
  },
  beta1: {
    kind: 'number',
    flag: 'adam-beta1',
    label: 'AdamW β1',
    help: "Decay of AdamW's first moment (the gradient's running mean).",
    default: 0.9,
    defaultFrom: 'transformers',
    min: 0,
    below: 1,
    advanced: true,
  },
  beta2: {
    kind: 'number',
    flag: 'adam-beta2',
    label: 'AdamW β2',
    help: "Decay of AdamW's second moment (the squared gradient's running mean).",
    default: 0.999,
    defaultFrom: 'transformers',
    min: 0,
    below: 1,
    advanced: true,
  },
  eps: {
    kind: 'number',
    flag: 'adam-epsilon',
    label: 'AdamW ε',
    help: "Added to the root of AdamW's second moment, against division by zero.",
    default: 1e-8,
    defaultFrom: 'transformers',
    above: 0,
    advanced: true,
  },
  seed: {
    kind: 'int',
    flag: 'seed',
    label: 'Seed',
    help: "Seeds the adapter's initialisation, the data order, dropout and the validation split.",
    default: 42,
    defaultFrom: 'transformers',
    min: 0,
  },
  evalEvery: {
    kind: 'int',
    flag: 'eval-every',
    label: 'Evaluate every (steps)',
    help: 'Computes the validation loss every N steps (0 = only at the end, when there is a validation split).',
    default: 0,
    defaultFrom: 'PEFT Studio',
    min: 0,
  },
  checkpointEvery: {
    kind: 'int',
    flag: 'save-every',
    label: 'Checkpoint every (steps)',
    help:
      "Saves the adapter and the optimizer state every N steps, to resume from (0 = never; transformers' `save_steps`). " +
      'The command line also saves one at the end.',
    default: 500,
    defaultFrom: 'transformers',
    min: 0,
  },
  gradientCheckpointing: {
    kind: 'boolean',
    flag: 'gradient-checkpointing',
    label: 'Gradient checkpointing',
    help:
      "Keeps only each layer's input during the forward and runs the layer again in the backward (transformers' " +
      '`gradient_checkpointing`): the activations shrink to about one layer\'s, for about a third more compute per step. ' +
      'The memory plan (Model step, `peft-studio plan`) shows the difference.',
    default: false,
    defaultFrom: 'transformers',
  },
} as const satisfies Readonly<Record<keyof TrainingSettings, Field>>;

export const TRAINING_DEFAULTS: TrainingSettings = defaultsOf(TRAINING_FIELDS);
