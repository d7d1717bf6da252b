/**
 * IA³ as a method of the registry: PEFT's IA3Config (src/peft/ia3-config.ts) from the run's options, its targets
 * (which scale their input, which their output) and PEFT's parameter counts. The adapter on the GPU is in adapter.ts.
 */
import type { ModelConfig } from '../../model/config';
import { IA3_FIELDS } from '../../options/ia3-fields';
import { ia3VectorShape, makeIA3Config, resolveIA3Targets, type IA3Config, type IA3Target } from '../../peft/ia3-config';
import { ia3AdapterConfigJson } from '../../peft/ia3-files';
import { effectiveTargetModules } from '../../peft/lora-targets';
import { baseParameterCount } from '../../peft/trainable-params';
import type { BaseModelName, MethodPlan, PeftMethod } from '../method';
import { adapterConfigObject } from '../shared/adapter-config';
import { mergeIa3 } from './merge';

/** The IA³ options of a config (what rebuilds it, and what the studio shows). */
export function ia3Options(config: IA3Config): Record<string, unknown> {
  const { target_modules, feedforward_modules } = config;
  return { target_modules, feedforward_modules };
}

const listText = (v: string[] | string) => (Array.isArray(v) ? v.join(', ') : v);

export function ia3Plan(config: IA3Config, targets: IA3Target[], model: ModelConfig): MethodPlan {
  let trainable = 0;
  for (const t of targets) trainable += ia3VectorShape(t).reduce((a, b) => a * b, 1);
  const ff = targets.filter((t) => t.feedforward).length;
  return {
    // PEFT's get_nb_trainable_parameters: the vectors are new parameters next to the frozen base ones.
    counts: { trainable, all: baseParameterCount(model) + trainable },
    facts: [
      ['method', 'IA³'],
      ['target_modules', listText(effectiveTargetModules(config, model))],
      ['feedforward_modules', listText(config.feedforward_modules)],
      ['modules adapted', String(targets.length)],
      ['input-scaled (feed-forward)', String(ff)],
      ['output-scaled', String(targets.length - ff)],
    ],
  };
}

/** PEFT's IA3Config from the run's options (PEFT's defaults for the rest); throws naming a bad field. */
export function ia3ConfigOf(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): IA3Config {
  return makeIA3Config(options as Partial<IA3Config>, model, { nameOrPath: base.nameOrPath, revision: base.revision ?? null });
}

export const IA3_METHOD: PeftMethod = {
  id: 'ia3',
  peftType: 'IA3',
  label: 'IA³',
  help:
    'Learned rescaling vectors on the linear layers: each adapted layer multiplies its output (or, for feed-forward layers, its input) by a ' +
    'trainable vector that starts at ones; the base weights stay frozen.',
  fields: IA3_FIELDS,
  plan(options, model, base) {
    const c = ia3ConfigOf(options, model, base);
    return ia3Plan(c, resolveIA3Targets(c, model), model);
  },
  effectiveOptions: (options, model, base) => ia3Options(ia3ConfigOf(options, model, base)),
  adapterConfig: (options, model, base) => adapterConfigObject(ia3AdapterConfigJson(ia3ConfigOf(options, model, base), model)),
  merge: { kind: 'merge', apply: mergeIa3 },
};
