/**
 * PeftMethod.adapterConfig (what the GPU recipe builds its PEFT config from, without a GPU) against the
 * adapter_config.json an adapter made from the same options exports: equal as parsed JSON, for every method and a
 * few option sets that change the saved config ("all-linear" expanded, DoRA, prompt tuning's TEXT init, P-tuning's
 * LSTM, prefix tuning's projection, IA³'s defaults, both bottleneck presets). One tiny model, no training.
 */
import { describe, expect, it } from 'vitest';
import type { MethodId } from '../src/methods/method';
import { METHODS } from '../src/methods/registry';
import { createAdapter } from '../src/methods/runtimes';
import { useGpu } from './helpers/gpu';
import { tinyBase, useTinyModels } from './helpers/tiny-training';

const ctx = useGpu();
const models = useTinyModels(['llama']);

const CASES: [MethodId, Record<string, unknown>][] = [
  ['lora', {}],
  ['lora', { r: 4, lora_alpha: 8, lora_dropout: 0.1, bias: 'lora_only', use_rslora: true, target_modules: 'all-linear' }],
  ['lora', { r: 2, use_dora: true, target_modules: ['q_proj', 'k_proj'] }],
  ['prompt-tuning', { num_virtual_tokens: 4, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'the cat' }],
  ['p-tuning', { num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 8, encoder_num_layers: 2, encoder_dropout: 0.1 }],
  ['prefix-tuning', { num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 8 }],
  ['ia3', {}],
  ['bottleneck', { config: 'houlsby', reduction_factor: 4, non_linearity: 'gelu' }],
  ['bottleneck', {}],
];

describe('adapterConfig equals the exported adapter_config.json', () => {
  it.each(CASES)('%s %j', async (id, options) => {
    const base = tinyBase(ctx.gpu, 'llama', models.get('llama')!);
    try {
      const adapter = createAdapter(base, id, options, 1);
      try {
        const files = await adapter.exportFiles();
        const exported = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')));
        expect(METHODS[id].adapterConfig(options, base.config, base)).toEqual(exported);
      } finally {
        adapter.destroy();
      }
    } finally {
      base.model.destroy();
    }
  });
});
