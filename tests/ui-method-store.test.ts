/**
 * The Method store's choice of PEFT method: each method's options (their PEFT defaults to start), what train-start
 * sends for the chosen one (options that do not matter at their defaults), the trainable-parameters line and its
 * errors for every method, the quick demos, and the restore of a saved run's method.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { availableMethods } from '../src/methods/registry';
import { accepts, fieldApplies, type Field } from '../src/options/field';
import { DEFAULT_TRAINING_FIELDS, methodSpec, OTHER_METHOD_IDS, trainableSummary, trainingFieldsError, useMethod, type MethodChoice } from '../src/ui/stores/method';
import { SMALL_LLAMA } from './fixtures/model-configs';

const llama = SMALL_LLAMA;
const info = { config: llama, nameOrPath: 'tiny-llama' };

const initial = useMethod.getState();
beforeEach(() => useMethod.setState(initial, true));

const state = () => useMethod.getState();
const summaryOf = (choice: MethodChoice) => trainableSummary(methodSpec(choice), info);
const errorOf = (choice: MethodChoice) => {
  const s = summaryOf(choice);
  return 'error' in s ? s.error : null;
};
const trainableOf = (choice: MethodChoice) => {
  const s = summaryOf(choice);
  if (!('trainable' in s)) throw new Error(`expected counts, got ${s.error}`);
  return s.trainable;
};

describe('the method choice', () => {
  it('starts on LoRA, with every other method of the registry at its PEFT defaults', () => {
    expect(state().methodId).toBe('lora');
    expect(OTHER_METHOD_IDS).toEqual(availableMethods().map((m) => m.id).filter((id) => id !== 'lora'));
    expect(state().otherOptions['prompt-tuning']).toEqual({ num_virtual_tokens: 20, prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null });
    expect(state().otherOptions['p-tuning']).toEqual({
      num_virtual_tokens: 20,
      encoder_reparameterization_type: 'MLP',
      encoder_hidden_size: null,
      encoder_num_layers: 2,
      encoder_dropout: 0,
    });
    expect(state().otherOptions['prefix-tuning']).toEqual({ num_virtual_tokens: 20, prefix_projection: false, encoder_hidden_size: null });
  });

  it("keeps each method's options while another is chosen", () => {
    state().setMethodId('prompt-tuning');
    state().setMethodOptions('prompt-tuning', { num_virtual_tokens: 7 });
    state().setMethodId('prefix-tuning');
    state().setMethodOptions('prefix-tuning', { num_virtual_tokens: 3 });
    state().setLora({ r: 4 });
    state().setMethodId('prompt-tuning');
    expect(state().otherOptions['prompt-tuning'].num_virtual_tokens).toBe(7);
    expect(state().otherOptions['prefix-tuning'].num_virtual_tokens).toBe(3);
    expect(state().r).toBe(4);
    expect(methodSpec(state())).toEqual({ id: 'prompt-tuning', options: { num_virtual_tokens: 7, prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null } });
  });

  it('refuses a method the registry does not have', () => {
    expect(() => state().setMethodId('dora' as never)).toThrow(/"dora" is not supported/);
    expect(state().methodId).toBe('lora');
  });
});

describe('what train-start sends', () => {
  it("sends LoRA's fields for LoRA", () => {
    state().setLora({ r: 4, target_modules: ['q_proj'] });
    const spec = methodSpec(state());
    expect(spec.id).toBe('lora');
    expect(spec.options).toMatchObject({ r: 4, target_modules: ['q_proj'], lora_alpha: 8 });
  });

  it('sends the hard prompt only with TEXT init, keeping it in the panel', () => {
    state().setMethodId('prompt-tuning');
    state().setMethodOptions('prompt-tuning', { prompt_tuning_init_text: 'Answer like a pirate:' });
    expect(methodSpec(state()).options.prompt_tuning_init_text).toBeNull();
    expect(state().otherOptions['prompt-tuning'].prompt_tuning_init_text).toBe('Answer like a pirate:');
    state().setMethodOptions('prompt-tuning', { prompt_tuning_init: 'TEXT' });
    expect(methodSpec(state()).options.prompt_tuning_init_text).toBe('Answer like a pirate:');
  });

  it("sends P-tuning's LSTM options only for the LSTM encoder, and prefix tuning's hidden size only with the projection", () => {
    state().setMethodId('p-tuning');
    state().setMethodOptions('p-tuning', { encoder_num_layers: 3, encoder_dropout: 0.1 });
    expect(methodSpec(state()).options).toMatchObject({ encoder_reparameterization_type: 'MLP', encoder_num_layers: 2, encoder_dropout: 0 });
    state().setMethodOptions('p-tuning', { encoder_reparameterization_type: 'LSTM' });
    expect(methodSpec(state()).options).toMatchObject({ encoder_num_layers: 3, encoder_dropout: 0.1 });

    state().setMethodId('prefix-tuning');
    state().setMethodOptions('prefix-tuning', { encoder_hidden_size: 32 });
    expect(methodSpec(state()).options.encoder_hidden_size).toBeNull();
    state().setMethodOptions('prefix-tuning', { prefix_projection: true });
    expect(methodSpec(state()).options.encoder_hidden_size).toBe(32);
  });
});

describe('the trainable-parameters line of every method', () => {
  it("counts PEFT's trainable parameters", () => {
    state().setMethodId('prompt-tuning');
    state().setMethodOptions('prompt-tuning', { num_virtual_tokens: 5 });
    // 5 virtual tokens of the hidden size 16.
    expect(trainableOf(state())).toBe(5 * 16);
    const line = summaryOf(state());
    expect('line' in line && line.line).toMatch(/^trainable params: 80 \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);

    state().setMethodId('prefix-tuning');
    state().setMethodOptions('prefix-tuning', { num_virtual_tokens: 5 });
    // A key and a value per layer and virtual token, of 2 key/value heads × head_dim 4.
    expect(trainableOf(state())).toBe(5 * 3 * 2 * (2 * 4));
  });

  it('names the field of a bad value', () => {
    state().setMethodId('prompt-tuning');
    state().setMethodOptions('prompt-tuning', { num_virtual_tokens: 0 });
    expect(errorOf(state())).toMatch(/num_virtual_tokens = 0/);
    state().setMethodOptions('prompt-tuning', { num_virtual_tokens: 64 });
    expect(errorOf(state())).toMatch(/num_virtual_tokens = 64.*at most 63/);
    state().setMethodOptions('prompt-tuning', { num_virtual_tokens: 10, prompt_tuning_init: 'TEXT' });
    expect(errorOf(state())).toMatch(/prompt_tuning_init_text = null.*hard prompt/);

    state().setMethodId('p-tuning');
    state().setMethodOptions('p-tuning', { encoder_hidden_size: Number.NaN });
    expect(errorOf(state())).toMatch(/encoder_hidden_size = NaN: expected an integer ≥ 1 \(default: token_dim\)/);
    state().setMethodOptions('p-tuning', { encoder_hidden_size: null });
    expect(errorOf(state())).toBeNull();
  });
});

describe('the quick demos', () => {
  it('prompt tuning starts from a pirate-ish hard prompt, on a valid configuration', () => {
    state().setLora({ r: 4 });
    state().applyDemoPreset('prompt-tuning');
    expect(state().methodId).toBe('prompt-tuning');
    expect(methodSpec(state())).toEqual({
      id: 'prompt-tuning',
      options: { num_virtual_tokens: 10, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Answer like a pirate:' },
    });
    expect([state().lr, state().schedule, state().maxSteps, state().batchSize]).toEqual([0.03, 'constant', 30, 8]);
    expect(trainableOf(state())).toBe(10 * 16);
    // LoRA's fields are left as they were.
    expect(state().r).toBe(4);
  });

  it("LoRA's switches the method back to LoRA", () => {
    state().applyDemoPreset('prompt-tuning');
    state().applyDemoPreset('lora');
    expect(state().methodId).toBe('lora');
    expect(state().lr).toBe(0.005);
  });
});

describe("a saved run's method", () => {
  it('is put back with its options over the defaults', () => {
    state().restore({ lr: 0.02 }, { id: 'p-tuning', options: { encoder_reparameterization_type: 'LSTM', encoder_num_layers: 1 } });
    expect(state().methodId).toBe('p-tuning');
    expect(state().lr).toBe(0.02);
    expect(state().otherOptions['p-tuning']).toEqual({
      num_virtual_tokens: 20,
      encoder_reparameterization_type: 'LSTM',
      encoder_hidden_size: null,
      encoder_num_layers: 1,
      encoder_dropout: 0,
    });
    state().restore({ r: 2 }, { id: 'lora', options: {} });
    expect([state().methodId, state().r]).toEqual(['lora', 2]);
  });

  it('leaves the choice alone without a method, or with one the registry does not have', () => {
    state().setMethodId('prefix-tuning');
    state().restore({ r: 2 });
    expect(state().methodId).toBe('prefix-tuning');
    state().restore({}, { id: 'loha' as never, options: {} });
    expect(state().methodId).toBe('prefix-tuning');
  });
});

describe('the fields that only matter with another value', () => {
  it('name a field of their own set and values it accepts', () => {
    for (const m of availableMethods()) {
      for (const [key, f] of Object.entries(m.fields) as [string, Field][]) {
        if (!f.onlyWhen) continue;
        const other = m.fields[f.onlyWhen.field];
        expect(other, `${m.id}.${key}.onlyWhen`).toBeDefined();
        for (const v of f.onlyWhen.values) expect(accepts(other, v), `${m.id}.${key}: ${String(v)}`).toBe(true);
      }
    }
  });

  it('apply only with those values', () => {
    const text = availableMethods().find((m) => m.id === 'prompt-tuning')!.fields.prompt_tuning_init_text;
    expect(fieldApplies(text, { prompt_tuning_init: 'TEXT' })).toBe(true);
    expect(fieldApplies(text, { prompt_tuning_init: 'RANDOM' })).toBe(false);
  });
});

describe('LoRA+ in the Method panel', () => {
  it('is a LoRA setting: another method with a ratio other than 1 is invalid, naming the field', () => {
    const fields = { ...DEFAULT_TRAINING_FIELDS, loraplusLrRatio: 16 };
    expect(trainingFieldsError({ ...fields, methodId: 'lora' }, 'en')).toBeNull();
    expect(trainingFieldsError({ ...fields, methodId: 'prompt-tuning' }, 'en')).toBe(
      'LoRA+ ratio = 16: LoRA+ applies to LoRA only (it speeds up lora_B); use 1 with Prompt tuning.',
    );
    expect(trainingFieldsError({ ...fields, methodId: 'prompt-tuning' }, 'zh')).toContain('LoRA+ 只用于 LoRA');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, methodId: 'prompt-tuning' }, 'en')).toBeNull();
    expect(trainingFieldsError({ ...fields, loraplusLrRatio: 0, methodId: 'lora' }, 'en')).toMatch(/loraplusLrRatio = 0: expected a number > 0/);
  });
});

describe('IA³ from the Method panel', () => {
  it("sends no module list when it is PEFT's default for the architecture (null)", () => {
    const spec = methodSpec({ ...useMethod.getState(), methodId: 'ia3' });
    expect(spec.id).toBe('ia3');
    expect(spec.options).not.toHaveProperty('target_modules');
    expect(spec.options).not.toHaveProperty('feedforward_modules');
  });
});
