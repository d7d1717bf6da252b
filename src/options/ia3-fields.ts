/**
 * The IA³ options a run sets, under PEFT's IA3Config names, with PEFT's defaults (src/peft/ia3-config.ts). IA3Config's
 * other fields keep PEFT's defaults (init_ia3_weights true: the vectors start at ones); makeIA3Config checks the whole
 * config, including that feedforward_modules is a subset of target_modules.
 */
import { IA3_HELP } from '../peft/ia3-config';
import { defaultsOf, type FieldSet, type ValuesOf } from './field';

export const IA3_FIELDS = {
  target_modules: {
    kind: 'targets',
    flag: 'ia3-target',
    label: '`target_modules`',
    help:
      `${IA3_HELP.target_modules}: module names (matched by the last part of their name; comma-separated on the command line), a regex (full match), ` +
      "or `all-linear`. Each target gets a trainable vector `ia3_l` that rescales its output (or, for a feed-forward module, its input). PEFT's default " +
      'depends on the architecture (gpt2 `c_attn`, `mlp.c_proj`; llama and qwen2 `k_proj`, `v_proj`, `down_proj`).',
    default: null,
    defaultFrom: 'PEFT',
  },
  feedforward_modules: {
    kind: 'targets',
    flag: 'feedforward-modules',
    label: '`feedforward_modules`',
    help:
      `${IA3_HELP.feedforward_modules}: the targets whose INPUT is scaled, \`(x ⊙ l)·Wᵀ + b\` (the others scale their output, bias included). ` +
      'A list is a plain suffix match, a regex a full match; it must be a subset of `target_modules`; an empty list scales no input. ' +
      'PEFT\'s default: gpt2 `mlp.c_proj`; llama and qwen2 `down_proj`.',
    allowEmpty: true,
    default: null,
    defaultFrom: 'PEFT',
  },
} as const satisfies FieldSet;

/** The IA³ options of a run (each may be left out: PEFT's default). */
export type IA3Options = ValuesOf<typeof IA3_FIELDS>;

export const IA3_DEFAULTS = defaultsOf(IA3_FIELDS);
