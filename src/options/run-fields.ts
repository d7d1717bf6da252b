/** The options of a training run besides LoRA and the Trainer's settings: how the data is cut and split, and W0's format. */
import { WEIGHT_FORMATS } from '../kernels/weight-format';
import { defaultsOf, type FieldSet, type ValuesOf } from './field';

export const RUN_FIELDS = {
  maxLength: {
    kind: 'int',
    flag: 'seq',
    label: 'Sequence length (tokens)',
    help:
      'Examples are cut to this many tokens. Batches are padded only to their longest example, so a higher limit costs only ' +
      "where examples are that long. transformers has no default (TRL's SFTTrainer cuts at 1024); 256 is the embedded model's context.",
    default: 256,
    defaultFrom: 'PEFT Studio',
    min: 2,
  },
  valSplit: {
    kind: 'number',
    flag: 'val-split',
    label: 'Validation split',
    help: 'Fraction of the examples held out to measure the validation loss (0 = none; transformers, too, evaluates only when given an eval set).',
    default: 0,
    defaultFrom: 'PEFT Studio',
    min: 0,
    below: 1,
    step: 0.05,
  },
  quant: {
    kind: 'choice',
    choices: WEIGHT_FORMATS,
    flag: 'quant',
    label: 'Weight format',
    help: 'Format of the frozen weights W0 on the GPU: `f32`, or quantized to `q8`, `q4` or `nf4` (as QLoRA).',
    default: 'f32',
    defaultFrom: 'PEFT Studio',
  },
  skipBadRecords: {
    kind: 'boolean',
    flag: 'skip-bad-records',
    label: 'Skip bad records',
    help: 'Leaves bad records out (and says how many) instead of stopping with an error that names their lines.',
    default: false,
    defaultFrom: 'PEFT Studio',
  },
} as const satisfies FieldSet;

export type RunOptions = ValuesOf<typeof RUN_FIELDS>;

export const RUN_DEFAULTS = defaultsOf(RUN_FIELDS);
