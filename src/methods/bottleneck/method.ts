/**
 * Bottleneck adapters (Houlsby et al., 2019: after the attention and the MLP; Pfeiffer et al., 2020: after the MLP
 * only) as a method of the registry. PEFT has no such method: the options and the files are those of AdapterHub's
 * `adapters` library (src/peft/bottleneck-files.ts). The adapter on the GPU is in adapter.ts.
 */
import type { ModelConfig } from '../../model/config';
import { BOTTLENECK_FIELDS } from '../../options/bottleneck-fields';
import { bottleneckConfigToJson, bottleneckSize, bottleneckTargets, makeBottleneckConfig, type BottleneckConfig } from '../../peft/bottleneck-files';
import { baseParameterCount } from '../../peft/trainable-params';
import type { BaseModelName, MethodPlan, PeftMethod } from '../method';
import { adapterConfigObject } from '../shared/adapter-config';

/** The options that rebuild a config (what the studio shows). */
export function bottleneckOptions(c: BottleneckConfig): Record<string, unknown> {
  return { config: c.config, reduction_factor: c.reduction_factor, non_linearity: c.non_linearity };
}

export function bottleneckPlan(c: BottleneckConfig, model: ModelConfig): MethodPlan {
  const d = model.hiddenSize;
  const b = bottleneckSize(c, model);
  const n = bottleneckTargets(c, model).length;
  const trainable = n * (2 * d * b + b + d);
  return {
    counts: { trainable, all: baseParameterCount(model) + trainable },
    facts: [
      ['method', 'Bottleneck adapters'],
      ['config', c.config === 'houlsby' ? 'houlsby (after attention and MLP)' : 'pfeiffer (after the MLP)'],
      ['bottleneck size', `${b} (${d} // ${c.reduction_factor})`],
      ['non_linearity', c.non_linearity],
      ['adapters', String(n)],
    ],
  };
}

/** The config from the run's options; throws naming a bad field. */
export function bottleneckConfigOf(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): BottleneckConfig {
  return makeBottleneckConfig(options, model, base.nameOrPath);
}

export const BOTTLENECK_METHOD: PeftMethod = {
  id: 'bottleneck',
  peftType: 'BOTTLENECK',
  label: 'Bottleneck adapters',
  help:
    'Small trainable MLPs (down-projection, non-linearity, up-projection, with a residual) after each block\'s MLP (pfeiffer) or after its attention ' +
    'and MLP (houlsby); the up-projection starts at zero, so the adapter starts as the identity. Saved in the format of AdapterHub\'s `adapters` library.',
  fields: BOTTLENECK_FIELDS,
  plan(options, model, base) {
    return bottleneckPlan(bottleneckConfigOf(options, model, base), model);
  },
  adapterConfig: (options, model, base) => adapterConfigObject(bottleneckConfigToJson(bottleneckConfigOf(options, model, base), model)),
  merge: {
    kind: 'refused',
    why: 'a bottleneck adapter is a non-linear MLP on a sublayer\'s output (out + up(act(down(out)))); it cannot be folded into the linear weights',
  },
};
