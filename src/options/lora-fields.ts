/**
 * The LoRA options a run sets, under PEFT's LoraConfig names, with PEFT's defaults (taken from peftDefaults() in
 * src/peft/lora-config.ts). LoraConfig's other fields keep PEFT's defaults; makeLoraConfig checks the whole config.
 */
import { ALL_LINEAR, peftDefaults } from '../peft/lora-config';
import { choiceDefault, defaultsOf, type FieldSet, type ValuesOf } from './field';

const PEFT = peftDefaults();

/** PEFT's bias values that PEFT Studio trains ("all" is not supported yet). */
export const LORA_BIAS_CHOICES = ['none', 'lora_only'] as const;

export const LORA_FIELDS = {
  r: {
    kind: 'int',
    flag: 'r',
    label: 'Rank `r`',
    help: 'Rank of the update B·A added to each adapted weight. Higher = more capacity and more trainable parameters.',
    default: PEFT.r,
    defaultFrom: 'PEFT',
    min: 1,
  },
  lora_alpha: {
    kind: 'number',
    flag: 'alpha',
    label: '`lora_alpha`',
    help: 'Scales the update by `lora_alpha / r` (`lora_alpha / √r` with rsLoRA).',
    default: PEFT.lora_alpha,
    defaultFrom: 'PEFT',
    above: 0,
  },
  lora_dropout: {
    kind: 'number',
    flag: 'dropout',
    label: '`lora_dropout`',
    help: 'Dropout probability on the input of the LoRA path while training (0 = none).',
    default: PEFT.lora_dropout,
    defaultFrom: 'PEFT',
    min: 0,
    below: 1,
    step: 0.05,
  },
  bias: {
    kind: 'choice',
    choices: LORA_BIAS_CHOICES,
    flag: 'bias',
    label: '`bias`',
    help: "Which biases train along with the adapter: `none`, or the biases of the adapted layers (`lora_only`). PEFT's `all` is not supported yet.",
    default: choiceDefault(LORA_BIAS_CHOICES, PEFT.bias),
    defaultFrom: 'PEFT',
  },
  use_rslora: {
    kind: 'boolean',
    flag: 'rslora',
    label: '`use_rslora`',
    help: 'Rank-stabilized LoRA: scale by `lora_alpha / √r` instead of `lora_alpha / r`, which keeps higher ranks learning.',
    default: PEFT.use_rslora,
    defaultFrom: 'PEFT',
  },
  use_dora: {
    kind: 'boolean',
    flag: 'use-dora',
    label: '`use_dora`',
    help:
      'DoRA (weight-decomposed LoRA): each adapted layer also trains a magnitude per output feature, which rescales the row of `W0 + scaling·B·A` ' +
      'to that length. More compute per step than plain LoRA.',
    default: PEFT.use_dora,
    defaultFrom: 'PEFT',
  },
  target_modules: {
    kind: 'targets',
    flag: 'target',
    label: '`target_modules`',
    help:
      `Which linear layers get a LoRA adapter: module names (matched by the last part of their name; comma-separated on the command line), ` +
      `a regex (full match), or \`${ALL_LINEAR}\` (every linear layer but the output layer). PEFT's default depends on the architecture ` +
      '(gpt2 `c_attn`; llama and qwen2 `q_proj`, `v_proj`).',
    default: null,
    defaultFrom: 'PEFT',
  },
} as const satisfies FieldSet;

/** The LoRA options of a run (each may be left out: PEFT's default). */
export type LoraOptions = ValuesOf<typeof LORA_FIELDS>;

export const LORA_DEFAULTS = defaultsOf(LORA_FIELDS);
