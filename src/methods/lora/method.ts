/**
 * LoRA as a method of the registry: PEFT's LoraConfig (src/peft/lora-config.ts) from the run's options, its targets
 * and PEFT's parameter counts. The adapter on the GPU is in adapter.ts.
 */
import type { ModelConfig } from '../../model/config';
import { LORA_FIELDS } from '../../options/lora-fields';
import { savedLoraConfig } from '../../peft/adapter-files';
import { loraConfigToJson, makeLoraConfig, type LoraConfig } from '../../peft/lora-config';
import { effectiveTargetModules, resolveLoraTargets, type ResolvedTarget } from '../../peft/lora-targets';
import { countParameters } from '../../peft/trainable-params';
import type { BaseModelName, MethodPlan, PeftMethod } from '../method';
import { adapterConfigObject } from '../shared/adapter-config';
import { mergeLora } from './merge';

/** The LoRA options of a config (what rebuilds it, and what the studio shows). */
export function loraOptions(config: LoraConfig): Record<string, unknown> {
  const { r, lora_alpha, lora_dropout, bias, use_rslora, use_dora, target_modules } = config;
  return { r, lora_alpha, lora_dropout, bias, use_rslora, use_dora, target_modules };
}

export function loraPlan(config: LoraConfig, targets: ResolvedTarget[], model: ModelConfig): MethodPlan {
  const scale = config.use_rslora ? `lora_alpha / √r = ${config.lora_alpha} / √${config.r}` : `lora_alpha / r = ${config.lora_alpha} / ${config.r}`;
  // What adapter_config.json will hold (PEFT saves "all-linear" expanded), so that the panels, the export and an
  // import all show the same names.
  const saved = effectiveTargetModules(config, model);
  const tm = Array.isArray(saved) ? saved.join(', ') : saved;
  return {
    counts: countParameters(model, targets, config.bias, config.use_dora),
    facts: [
      ['method', 'LoRA'],
      ['r', String(config.r)],
      ['lora_alpha', String(config.lora_alpha)],
      ['scaling', `${scale} = ${Number(targets[0]?.scale.toPrecision(4))}`],
      ['use_rslora', config.use_rslora ? 'yes' : 'no'],
      ['use_dora', config.use_dora ? 'yes (a magnitude per output feature)' : 'no'],
      ['target_modules', tm],
      ['modules adapted', String(targets.length)],
      ['bias', config.bias],
    ],
  };
}

/** PEFT's LoraConfig from the run's options (PEFT's defaults for the rest); throws naming a bad field. */
export function loraConfigOf(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): LoraConfig {
  return makeLoraConfig(options as Partial<LoraConfig>, model, { nameOrPath: base.nameOrPath, revision: base.revision ?? null });
}

export const LORA_METHOD: PeftMethod = {
  id: 'lora',
  peftType: 'LORA',
  label: 'LoRA',
  help: 'Low-rank adapters on the linear layers: each adapted W0 gets a trainable update B·A of rank r; the base weights stay frozen.',
  fields: LORA_FIELDS,
  plan(options, model, base) {
    const c = loraConfigOf(options, model, base);
    return loraPlan(c, resolveLoraTargets(c, model), model);
  },
  adapterConfig: (options, model, base) => adapterConfigObject(loraConfigToJson(savedLoraConfig(loraConfigOf(options, model, base), model))),
  merge: { kind: 'merge', apply: mergeLora },
};
