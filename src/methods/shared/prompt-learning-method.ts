/**
 * What the three prompt-learning methods (prompt tuning, P-tuning, prefix tuning) share as registry entries: their
 * PEFT config from the run's options (src/peft/prompt-learning-config.ts), PEFT's parameter counts, and the facts
 * the studio shows.
 */
import type { ModelConfig } from '../../model/config';
import type { FieldSet } from '../../options/field';
import { makePromptLearningConfig, type ConfigOf, type PromptLearningConfig, type PromptLearningPeftType } from '../../peft/prompt-learning-config';
import { promptLearningAdapterConfigJson } from '../../peft/prompt-learning-files';
import { countPromptLearningParameters } from '../../peft/trainable-params';
import type { AdapterFact, BaseModelName, MethodId, MethodPlan, PeftMethod } from '../method';
import { adapterConfigObject } from './adapter-config';

/** The config of a prompt-learning method from the run's options (a null option takes PEFT's default or derived value). */
export function promptLearningConfigOf<T extends PromptLearningPeftType>(
  peftType: T,
  options: Readonly<Record<string, unknown>>,
  model: ModelConfig,
  base: BaseModelName,
): ConfigOf<T> {
  const partial: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== null && v !== undefined) partial[k] = v;
  return makePromptLearningConfig(peftType, partial as Partial<ConfigOf<T>>, model, { nameOrPath: base.nameOrPath, revision: base.revision ?? null });
}

/** The options of a config (what rebuilds it), for the fields the method has. */
export function promptLearningOptions(config: PromptLearningConfig, fields: FieldSet): Record<string, unknown> {
  const c = config as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(fields).map((k) => [k, c[k] ?? null]));
}

function facts(label: string, config: PromptLearningConfig): AdapterFact[] {
  const out: AdapterFact[] = [
    ['method', label],
    ['num_virtual_tokens', String(config.num_virtual_tokens)],
    ['token_dim', String(config.token_dim)],
  ];
  if (config.peft_type === 'PROMPT_TUNING') {
    out.push(['prompt_tuning_init', config.prompt_tuning_init]);
    if (config.prompt_tuning_init === 'TEXT') out.push(['prompt_tuning_init_text', JSON.stringify(config.prompt_tuning_init_text)]);
  } else if (config.peft_type === 'P_TUNING') {
    out.push(['encoder_reparameterization_type', config.encoder_reparameterization_type], ['encoder_hidden_size', String(config.encoder_hidden_size)]);
    if (config.encoder_reparameterization_type === 'LSTM') {
      out.push(['encoder_num_layers', String(config.encoder_num_layers)], ['encoder_dropout', String(config.encoder_dropout)]);
    }
  } else {
    out.push(['num_layers', String(config.num_layers)], ['prefix_projection', config.prefix_projection ? 'yes' : 'no']);
    if (config.prefix_projection) out.push(['encoder_hidden_size', String(config.encoder_hidden_size)]);
  }
  return out;
}

export function promptLearningPlan(label: string, config: PromptLearningConfig, model: ModelConfig): MethodPlan {
  return { counts: countPromptLearningParameters(model, config), facts: facts(label, config) };
}

export function promptLearningMethod(id: MethodId, peftType: PromptLearningPeftType, label: string, help: string, fields: FieldSet): PeftMethod {
  return {
    id,
    peftType,
    label,
    help,
    fields,
    plan: (options, model, base) => promptLearningPlan(label, promptLearningConfigOf(peftType, options, model, base), model),
    adapterConfig: (options, model, base) => adapterConfigObject(promptLearningAdapterConfigJson(promptLearningConfigOf(peftType, options, model, base))),
    merge: {
      kind: 'refused',
      why:
        `${label} adds ${peftType === 'PREFIX_TUNING' ? 'keys and values in front of every layer\'s attention' : 'virtual tokens in front of the input'}, ` +
        'not a change of the weights, so there is nothing to merge (PEFT has no merge_and_unload for prompt learning); ' +
        'deploy the adapter itself and load it with PeftModel.from_pretrained',
    },
  };
}
