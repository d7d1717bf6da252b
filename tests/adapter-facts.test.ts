/**
 * One source for each number the studio shows of an adapter: the target modules are what adapter_config.json holds
 * (PEFT saves "all-linear" expanded), so a trained adapter and the same adapter re-imported read alike; the
 * trainable share is print_trainable_parameters' trainable% (of the base model's and the adapter's parameters).
 */
import { describe, expect, it } from 'vitest';
import { LORA_METHOD } from '../src/methods/lora/method';
import { planMethod } from '../src/methods/registry';
import { makeLoraConfig } from '../src/peft/lora-config';
import { effectiveTargetModules } from '../src/peft/lora-targets';
import { trainableParametersLine } from '../src/peft/trainable-params';
import { SMALL_LLAMA } from './fixtures/model-configs';

const base = { nameOrPath: 'tiny-llama', revision: null };

describe('what the studio says of a LoRA adapter', () => {
  it('names the target modules as adapter_config.json saves them, before and after an import', () => {
    const trained = planMethod(LORA_METHOD, { r: 4, lora_alpha: 8, target_modules: 'all-linear' }, SMALL_LLAMA, base);
    const saved = effectiveTargetModules(makeLoraConfig({ r: 4, lora_alpha: 8, target_modules: 'all-linear' }, SMALL_LLAMA, { nameOrPath: 'tiny-llama' }), SMALL_LLAMA);
    expect(Array.isArray(saved)).toBe(true);
    const facts = new Map(trained.facts);
    expect(facts.get('target_modules')).toBe((saved as string[]).join(', '));
    expect(facts.get('target_modules')).toBe('down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj');
    // The re-imported adapter's config holds that list: the same facts, the same counts.
    const imported = planMethod(LORA_METHOD, { r: 4, lora_alpha: 8, target_modules: saved }, SMALL_LLAMA, base);
    expect(imported.facts).toEqual(trained.facts);
    expect(imported.counts).toEqual(trained.counts);
  });

  it("gives the trainable share as print_trainable_parameters does: of all parameters, four decimals", () => {
    const { counts } = planMethod(LORA_METHOD, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] }, SMALL_LLAMA, base);
    const line = trainableParametersLine(counts.trainable, counts.all);
    expect(counts.all).toBeGreaterThan(counts.trainable);
    expect(line).toBe(`trainable params: ${counts.trainable.toLocaleString('en-US')} || all params: ${counts.all.toLocaleString('en-US')} || trainable%: ${((100 * counts.trainable) / counts.all).toFixed(4)}`);
  });
});
