/**
 * The bottleneck-adapter options a run sets, under the names of AdapterHub's `adapters` library (BnConfig,
 * `configuration/adapter_config.py`): which sublayers get an adapter (`houlsby` = DoubleSeqBnConfig: after the
 * attention and the MLP; `pfeiffer` = SeqBnConfig: after the MLP only), the reduction factor and the
 * non-linearity. src/peft/bottleneck-files.ts checks the whole config (a bottleneck size of 0 or larger than the
 * hidden size is refused there, naming reduction_factor).
 */
import { defaultsOf, type FieldSet, type ValuesOf } from './field';

export const BOTTLENECK_CONFIGS = ['pfeiffer', 'houlsby'] as const;
export type BottleneckConfigName = (typeof BOTTLENECK_CONFIGS)[number];
/** The non-linearities offered: AdapterHub's names (transformers' ACT2FN), each a GPU pointwise kernel. */
export const BOTTLENECK_NON_LINEARITIES = ['relu', 'tanh', 'swish', 'gelu', 'gelu_new'] as const;
export type BottleneckNonLinearity = (typeof BOTTLENECK_NON_LINEARITIES)[number];

export const BOTTLENECK_FIELDS = {
  config: {
    kind: 'choice',
    flag: 'bottleneck-config',
    label: '`config`',
    choices: BOTTLENECK_CONFIGS,
    choiceLabels: { pfeiffer: 'pfeiffer (after the MLP)', houlsby: 'houlsby (after attention and MLP)' },
    help:
      'Where the adapters sit: `pfeiffer` (AdapterHub\'s `seq_bn`) adds one after each block\'s MLP; `houlsby` (`double_seq_bn`) one after the ' +
      'attention and one after the MLP. Each adapter turns a sublayer\'s output `out` into `out + up(act(down(out)))` before it joins the residual stream. ' +
      "AdapterHub's default is `seq_bn`.",
    default: 'pfeiffer',
    defaultFrom: 'PEFT Studio',
  },
  reduction_factor: {
    kind: 'number',
    flag: 'reduction-factor',
    label: '`reduction_factor`',
    help:
      'The bottleneck size is `hidden_size // reduction_factor` (AdapterHub\'s rule); it must be at least 1 and at most `hidden_size`. AdapterHub\'s default is 16.',
    default: 16,
    defaultFrom: 'PEFT Studio',
    above: 0,
  },
  non_linearity: {
    kind: 'choice',
    flag: 'non-linearity',
    label: '`non_linearity`',
    choices: BOTTLENECK_NON_LINEARITIES,
    help:
      "The activation between the down- and the up-projection, by transformers' names: `swish` is x·sigmoid(x), `gelu` the exact (erf) GELU, " +
      "`gelu_new` its tanh approximation. AdapterHub's default is `relu` for `seq_bn` (pfeiffer) and `swish` for `double_seq_bn` (houlsby).",
    default: 'relu',
    defaultFrom: 'PEFT Studio',
  },
} as const satisfies FieldSet;

export type BottleneckOptions = ValuesOf<typeof BOTTLENECK_FIELDS>;

export const BOTTLENECK_DEFAULTS = defaultsOf(BOTTLENECK_FIELDS);
