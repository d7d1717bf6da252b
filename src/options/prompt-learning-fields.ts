/**
 * The options of the prompt-learning methods (prompt tuning, P-tuning, prefix tuning) a run sets, under PEFT's
 * field names, with PEFT's defaults and help texts (src/peft/prompt-learning-config.ts). A field the three share
 * (num_virtual_tokens) or two share (encoder_hidden_size) is one object, so it has one flag (prefix tuning's copy
 * adds only when it matters: `onlyWhen`, which the Method panel reads).
 */
import { ENCODER_REPARAMETERIZATION_TYPES, PROMPT_LEARNING_HELP, PROMPT_TUNING_INITS } from '../peft/prompt-learning-config';
import type { FieldSet } from './field';

const HELP = PROMPT_LEARNING_HELP;

const NUM_VIRTUAL_TOKENS = {
  kind: 'int',
  flag: 'virtual-tokens',
  label: '`num_virtual_tokens`',
  help: `${HELP.PROMPT_TUNING.num_virtual_tokens}: the trainable positions in front of every sequence (or, for prefix tuning, the keys and values in front of every layer's). PEFT has no default; 20 is what its examples use.`,
  default: 20,
  defaultFrom: 'PEFT Studio',
  min: 1,
} as const;

const ENCODER_HIDDEN_SIZE = {
  kind: 'derived-int',
  flag: 'encoder-hidden',
  label: '`encoder_hidden_size`',
  help: `${HELP.P_TUNING.encoder_hidden_size}: P-tuning's encoder, or prefix tuning's projection (with \`prefix_projection\`). PEFT's default is token_dim.`,
  default: null,
  defaultFrom: 'PEFT',
  derivedFrom: 'token_dim',
  min: 1,
} as const;

/** P-tuning's options that only its LSTM encoder reads. */
const LSTM_ONLY = { field: 'encoder_reparameterization_type', values: ['LSTM'] } as const;

export const PROMPT_TUNING_FIELDS = {
  num_virtual_tokens: NUM_VIRTUAL_TOKENS,
  prompt_tuning_init: {
    kind: 'choice',
    choices: PROMPT_TUNING_INITS,
    choiceLabels: { RANDOM: 'RANDOM (N(0, 1))', TEXT: 'TEXT (the embeddings of a hard prompt)', SAMPLE_VOCAB: 'SAMPLE_VOCAB (embeddings of random tokens)' },
    flag: 'prompt-init',
    label: '`prompt_tuning_init`',
    help: `${HELP.PROMPT_TUNING.prompt_tuning_init}: \`RANDOM\`, \`TEXT\` (the embeddings of \`prompt_tuning_init_text\`'s tokens, repeated or cut to the virtual tokens: a hard prompt becomes a soft prompt) or \`SAMPLE_VOCAB\` (the embeddings of random vocabulary tokens).`,
    default: 'RANDOM',
    defaultFrom: 'PEFT',
  },
  prompt_tuning_init_text: {
    kind: 'text',
    flag: 'prompt-init-text',
    label: '`prompt_tuning_init_text`',
    help: `${HELP.PROMPT_TUNING.prompt_tuning_init_text}, e.g. "Answer like a pirate:".`,
    default: null,
    defaultFrom: 'PEFT',
    onlyWhen: { field: 'prompt_tuning_init', values: ['TEXT'] },
  },
} as const satisfies FieldSet;

export const P_TUNING_FIELDS = {
  num_virtual_tokens: NUM_VIRTUAL_TOKENS,
  encoder_reparameterization_type: {
    kind: 'choice',
    choices: ENCODER_REPARAMETERIZATION_TYPES,
    flag: 'encoder',
    label: '`encoder_reparameterization_type`',
    help: `${HELP.P_TUNING.encoder_reparameterization_type}: \`MLP\` (three Linear layers with ReLU) or \`LSTM\` (a bidirectional LSTM and two Linear layers).`,
    default: 'MLP',
    defaultFrom: 'PEFT',
  },
  encoder_hidden_size: ENCODER_HIDDEN_SIZE,
  encoder_num_layers: {
    kind: 'int',
    flag: 'encoder-layers',
    label: '`encoder_num_layers`',
    help: `${HELP.P_TUNING.encoder_num_layers} (LSTM layers; the MLP encoder has a fixed three).`,
    default: 2,
    defaultFrom: 'PEFT',
    min: 1,
    onlyWhen: LSTM_ONLY,
  },
  encoder_dropout: {
    kind: 'number',
    flag: 'encoder-dropout',
    label: '`encoder_dropout`',
    help: `${HELP.P_TUNING.encoder_dropout} (between LSTM layers, while training).`,
    default: 0,
    defaultFrom: 'PEFT',
    min: 0,
    below: 1,
    step: 0.05,
    onlyWhen: LSTM_ONLY,
  },
} as const satisfies FieldSet;

export const PREFIX_TUNING_FIELDS = {
  num_virtual_tokens: NUM_VIRTUAL_TOKENS,
  prefix_projection: {
    kind: 'boolean',
    flag: 'prefix-projection',
    label: '`prefix_projection`',
    help: `${HELP.PREFIX_TUNING.prefix_projection}: off, the prefix's keys and values are trained directly (P-tuning v2's deep prompt); on, they are the output of Linear, Tanh, Linear on trainable embeddings.`,
    default: false,
    defaultFrom: 'PEFT',
  },
  encoder_hidden_size: { ...ENCODER_HIDDEN_SIZE, onlyWhen: { field: 'prefix_projection', values: [true] } },
} as const satisfies FieldSet;
