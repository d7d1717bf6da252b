/**
 * The studio's Method and Training stores: their pure helpers (ETA, GPU-memory estimate, PEFT's default target
 * modules, the trainable-parameters line and its validation errors) and the method store's model-type reset.
 */
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/model/config';
import {
  defaultTargetModules,
  loraOptions,
  targetModuleNames,
  trainableSummary,
  trainingFieldsError,
  useMethod,
  DEFAULT_TRAINING_FIELDS,
  DEFAULT_LORA_FIELDS,
  type LoraFields,
} from '../src/ui/stores/method';
import { estimateEtaSeconds, formatDuration, timedSeconds, gpuMemoryBytes, parseTrainableParams, sameModel } from '../src/ui/stores/training-helpers';
import { SMALL_LLAMA } from './fixtures/model-configs';

const gpt2 = parseModelConfig({ model_type: 'gpt2', n_embd: 16, n_head: 2, n_layer: 2, vocab_size: 50, n_positions: 32 });
const llama = SMALL_LLAMA;

describe('estimateEtaSeconds', () => {
  it('multiplies the mean step time by the steps left', () => {
    // 1 s per step, 7 of 10 steps left.
    expect(estimateEtaSeconds([1, 1, 1], 3, 10)).toBeCloseTo(7, 10);
  });

  it('averages only the recent steps', () => {
    // A slow step then 0.5 s steps; a window of 3 steps ignores the slow one.
    expect(estimateEtaSeconds([10, 0.5, 0.5, 0.5], 4, 6, 3)).toBeCloseTo(1, 10);
    // With every step: (11.5 s / 4) × 2.
    expect(estimateEtaSeconds([10, 0.5, 0.5, 0.5], 4, 6, 10)).toBeCloseTo(5.75, 10);
  });

  it('estimates from the first timed step, and is 0 at the end', () => {
    expect(estimateEtaSeconds([], 0, 10)).toBeNull();
    expect(estimateEtaSeconds([2], 1, 10)).toBeCloseTo(18, 10);
    expect(estimateEtaSeconds([1], 10, 10)).toBe(0);
  });
});

describe('timedSeconds', () => {
  it('takes the shader compiles out of a step', () => {
    // A first step of 44 s of which 41.5 s compiled shaders: 2.5 s of training.
    expect(timedSeconds({ seconds: 44, compileSeconds: 41.5 })).toBeCloseTo(2.5, 10);
    expect(timedSeconds({ seconds: 1, compileSeconds: 0 })).toBe(1);
  });
});

describe('formatDuration', () => {
  it('shows seconds, minutes and hours', () => {
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(7260)).toBe('2 h 1 min');
  });
});

describe('gpuMemoryBytes', () => {
  it('adds weights, activations and 16 bytes per trainable parameter (value, grad, Adam m and v in f32)', () => {
    expect(gpuMemoryBytes({ weightBytes: 1_000_000, activationBytes: 250_000, trainableParams: 1000 })).toBe(1_000_000 + 250_000 + 4 * 4 * 1000);
    expect(gpuMemoryBytes({ weightBytes: 0, activationBytes: 0, trainableParams: 0 })).toBe(0);
  });

  it('reads the trainable count from PEFT\'s line', () => {
    expect(parseTrainableParams('trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364')).toBe(294_912);
    expect(parseTrainableParams('model: loaded')).toBeNull();
  });
});

describe('target modules', () => {
  it("are PEFT's defaults per model type", () => {
    expect(defaultTargetModules('gpt2')).toEqual(['c_attn']);
    expect(defaultTargetModules('llama')).toEqual(['q_proj', 'v_proj']);
    expect(defaultTargetModules('qwen2')).toEqual(['q_proj', 'v_proj']);
  });

  it('offer each linear layer name of the architecture once', () => {
    expect(targetModuleNames(gpt2)).toEqual(['c_attn', 'c_proj', 'c_fc']);
    expect(targetModuleNames(llama)).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
  });

  it('reset to the new default when a model of another type loads, unless "all-linear"', () => {
    const m = useMethod.getState();
    m.modelLoaded('llama');
    expect(useMethod.getState().target_modules).toEqual(['q_proj', 'v_proj']);
    useMethod.getState().setTarget('k_proj', true, targetModuleNames(llama));
    expect(useMethod.getState().target_modules).toEqual(['q_proj', 'k_proj', 'v_proj']);
    useMethod.getState().modelLoaded('llama');
    expect(useMethod.getState().target_modules).toEqual(['q_proj', 'k_proj', 'v_proj']);
    useMethod.getState().modelLoaded('gpt2');
    expect(useMethod.getState().target_modules).toEqual(['c_attn']);
    useMethod.getState().setAllLinear(true, targetModuleNames(gpt2));
    useMethod.getState().modelLoaded('qwen2');
    expect(useMethod.getState().target_modules).toBe('all-linear');
    useMethod.getState().setAllLinear(false, targetModuleNames(llama));
    expect(useMethod.getState().target_modules).toHaveLength(7);
  });
});

describe('the demo preset', () => {
  it('sets the quick-demo values', () => {
    useMethod.getState().applyDemoPreset();
    const s = useMethod.getState();
    expect([s.methodId, s.r, s.lora_alpha, s.target_modules, s.lr, s.schedule, s.maxSteps, s.batchSize, s.evalEvery, s.checkpointEvery, s.valSplit]).toEqual([
      'lora', 8, 16, 'all-linear', 0.005, 'constant', 30, 8, 0, 5, 0,
    ]);
  });
});

/** LoRA fields as the spec train-start sends. */
const loraSpec = (fields: LoraFields) => ({ id: 'lora' as const, options: loraOptions(fields) });

describe('trainableSummary of LoRA', () => {
  const info = { config: llama, nameOrPath: 'tiny-llama' };
  const lora: LoraFields = { ...DEFAULT_LORA_FIELDS, target_modules: ['q_proj', 'v_proj'] };

  it("gives PEFT's print_trainable_parameters line", () => {
    // q_proj: 16 → 16 (4 heads × 4), v_proj: 16 → 8 (2 kv heads × 4); r = 8 on both, in 3 layers.
    const trainable = 3 * (8 * (16 + 16) + 8 * (16 + 8));
    const summary = trainableSummary(loraSpec(lora), info);
    expect('line' in summary && summary.line).toMatch(new RegExp(`^trainable params: ${trainable.toLocaleString('en-US')} \\|\\| all params: [\\d,]+ \\|\\| trainable%: \\d+\\.\\d{4}$`));
  });

  it('names the field of a bad value', () => {
    const r0 = trainableSummary(loraSpec({ ...lora, r: 0 }), info);
    expect('error' in r0 && r0.error).toMatch(/\br = 0\b/);
    const none = trainableSummary(loraSpec({ ...lora, target_modules: [] }), info);
    expect('error' in none && none.error).toMatch(/target_modules/);
    const dropout = trainableSummary(loraSpec({ ...lora, lora_dropout: Number.NaN }), info);
    expect('error' in dropout && dropout.error).toMatch(/lora_dropout/);
  });

  it('counts the biases lora_only trains', () => {
    const gpt2Info = { config: gpt2, nameOrPath: 'tiny-gpt2' };
    const none = trainableSummary(loraSpec({ ...DEFAULT_LORA_FIELDS, target_modules: ['c_attn'] }), gpt2Info);
    const withBias = trainableSummary(loraSpec({ ...DEFAULT_LORA_FIELDS, target_modules: ['c_attn'], bias: 'lora_only' }), gpt2Info);
    if (!('trainable' in none) || !('trainable' in withBias)) throw new Error('expected counts');
    // c_attn: 16 → 48, with a bias of 48 in each of the 2 layers.
    expect(none.trainable).toBe(2 * 8 * (16 + 48));
    expect(withBias.trainable - none.trainable).toBe(2 * 48);
  });
});

describe('trainingFieldsError', () => {
  it('accepts the defaults and names a bad setting', () => {
    expect(trainingFieldsError(DEFAULT_TRAINING_FIELDS)).toBeNull();
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, batchSize: 0 })).toMatch(/batchSize/);
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, lr: Number.NaN })).toMatch(/\blr\b/);
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, valSplit: 1 })).toMatch(/valSplit/);
  });
});

describe('sameModel', () => {
  it('knows the saved run\'s model again', () => {
    const saved = { kind: 'hub' as const, repo: 'owner/name', revision: 'main', nameOrPath: 'owner/name', format: 'f32' as const };
    expect(sameModel(saved, { kind: 'hub', repo: 'owner/name' }, { nameOrPath: 'owner/name' })).toBe(true);
    expect(sameModel(saved, { kind: 'hub', repo: 'owner/other' }, { nameOrPath: 'owner/other' })).toBe(false);
    expect(sameModel(saved, { kind: 'default' }, { nameOrPath: 'austen-2m' })).toBe(false);
    expect(sameModel({ ...saved, kind: 'default' }, { kind: 'default' }, { nameOrPath: 'austen-2m' })).toBe(true);
  });
});
