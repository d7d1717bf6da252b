/**
 * What a method adds to a training pass's memory, for the memory plan (engine/memory-plan.ts), from its options
 * and config.json alone: its trainable parameters (PeftMethod.plan) and the tensors its hooks take per layer.
 */
import type { PlanMethod } from '../engine/memory-plan';
import type { ModelConfig } from '../model/config';
import { resolveIA3Targets } from '../peft/ia3-config';
import { resolveLoraTargets } from '../peft/lora-targets';
import { bottleneckSize, bottleneckTargets } from '../peft/bottleneck-files';
import { bottleneckConfigOf } from './bottleneck/method';
import { ia3ConfigOf } from './ia3/method';
import { loraConfigOf } from './lora/method';
import type { BaseModelName, MethodId } from './method';
import { methodById } from './registry';
import { promptLearningConfigOf } from './shared/prompt-learning-method';

export function planMethodOf(id: MethodId, options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): PlanMethod {
  const trainableParams = methodById(id).plan(options, model, base).counts.trainable;
  switch (id) {
    case 'lora': {
      const c = loraConfigOf(options, model, base);
      const bias = c.bias === 'lora_only';
      const targets = resolveLoraTargets(c, model).map((t) => ({ layer: t.layer, role: t.role, r: t.r, bias: bias && t.hasBias }));
      return { trainableParams, lora: { targets, dora: c.use_dora, dropout: c.lora_dropout > 0 }, exact: true };
    }
    case 'ia3': {
      const targets = resolveIA3Targets(ia3ConfigOf(options, model, base), model).map((t) => ({ layer: t.layer, role: t.role, feedforward: t.feedforward }));
      return { trainableParams, ia3: { targets }, exact: true };
    }
    case 'prompt-tuning':
      return { trainableParams, virtualTokens: promptLearningConfigOf('PROMPT_TUNING', options, model, base).num_virtual_tokens, exact: true };
    case 'p-tuning':
      // The prompt encoder's own tensors (an MLP or LSTM over the virtual tokens) are not replayed.
      return { trainableParams, virtualTokens: promptLearningConfigOf('P_TUNING', options, model, base).num_virtual_tokens, exact: false };
    case 'prefix-tuning': {
      const c = promptLearningConfigOf('PREFIX_TUNING', options, model, base);
      return { trainableParams, prefixLength: c.num_virtual_tokens, exact: !c.prefix_projection };
    }
    case 'bottleneck': {
      const c = bottleneckConfigOf(options, model, base);
      const places = bottleneckTargets(c, model).map((t) => ({ layer: t.layer, sublayer: t.place }));
      return { trainableParams, bottleneck: { places, size: bottleneckSize(c, model) }, exact: true };
    }
  }
}
