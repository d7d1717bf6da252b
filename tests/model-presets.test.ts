/**
 * The real configs of src/model/presets.ts: each is plain JSON with the fields transformers writes, parses with the
 * project's reader (parseModelConfig), and gives the sizes and parameter counts the published models have — the
 * counts computed here from the raw config.json fields, by the formula of a Llama-family model, not by the code
 * under test, and checked against the numbers written down.
 */
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/model/config';
import { expectedTensors } from '../src/model/weight-names';
import { MODEL_PRESET_NAMES, MODEL_PRESETS, modelPreset, presetConfigJson, presetModelConfig, type ModelPresetName } from '../src/model/presets';

type Raw = Record<string, unknown>;

/** Parameters of a Llama-family checkpoint from config.json by hand: embeddings, per layer q/k/v/o + MLP + 2 norms, final norm, untied head. */
function handCount(raw: Raw): number {
  const d = raw.hidden_size as number;
  const V = raw.vocab_size as number;
  const I = raw.intermediate_size as number;
  const L = raw.num_hidden_layers as number;
  const hd = d / (raw.num_attention_heads as number);
  const kv = (raw.num_key_value_heads as number) * hd;
  const qkvBias = raw.model_type === 'qwen2' ? d + 2 * kv : 0;
  const perLayer = d * d + 2 * d * kv + d * d + qkvBias + 3 * d * I + 2 * d;
  return V * d + L * perLayer + d + (raw.tie_word_embeddings ? 0 : V * d);
}

// The published facts of each model, written down (not read from the presets).
const FACTS: Record<ModelPresetName, {
  repo: string; arch: string; type: string; d: number; layers: number; heads: number; kv: number; inter: number; vocab: number;
  tied: boolean; eps: number; theta: number; maxPos: number; bos: number; eos: number; params: number;
}> = {
  'smollm2-135m': {
    repo: 'HuggingFaceTB/SmolLM2-135M', arch: 'LlamaForCausalLM', type: 'llama', d: 576, layers: 30, heads: 9, kv: 3, inter: 1536,
    vocab: 49152, tied: true, eps: 1e-5, theta: 100000, maxPos: 8192, bos: 0, eos: 0, params: 134_515_008,
  },
  'smollm2-360m': {
    repo: 'HuggingFaceTB/SmolLM2-360M', arch: 'LlamaForCausalLM', type: 'llama', d: 960, layers: 32, heads: 15, kv: 5, inter: 2560,
    vocab: 49152, tied: true, eps: 1e-5, theta: 100000, maxPos: 8192, bos: 0, eos: 0, params: 361_821_120,
  },
  'qwen2.5-0.5b': {
    repo: 'Qwen/Qwen2.5-0.5B', arch: 'Qwen2ForCausalLM', type: 'qwen2', d: 896, layers: 24, heads: 14, kv: 2, inter: 4864,
    vocab: 151936, tied: true, eps: 1e-6, theta: 1000000, maxPos: 32768, bos: 151643, eos: 151643, params: 494_032_768,
  },
  'tinyllama-1.1b': {
    repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', arch: 'LlamaForCausalLM', type: 'llama', d: 2048, layers: 22, heads: 32, kv: 4, inter: 5632,
    vocab: 32000, tied: false, eps: 1e-5, theta: 10000, maxPos: 2048, bos: 1, eos: 2, params: 1_100_048_384,
  },
};

describe.each(MODEL_PRESET_NAMES)('%s', (name) => {
  const preset = MODEL_PRESETS[name];
  const raw = preset.config as Raw;
  const f = FACTS[name];

  it('is the config.json transformers writes: JSON, with its fields and values', () => {
    expect(preset.repo).toBe(f.repo);
    expect(JSON.parse(JSON.stringify(raw))).toEqual(raw);
    for (const key of [
      'architectures', 'model_type', 'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'num_hidden_layers',
      'vocab_size', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings', 'hidden_act', 'bos_token_id',
      'eos_token_id', 'torch_dtype', 'initializer_range', 'use_cache', 'transformers_version',
    ]) {
      expect(raw, key).toHaveProperty(key);
    }
    if (f.type === 'llama') {
      expect(raw.attention_bias).toBe(false);
      expect(raw.rope_scaling).toBeNull();
    }
    expect(raw).toMatchObject({
      architectures: [f.arch], model_type: f.type, hidden_size: f.d, num_hidden_layers: f.layers, num_attention_heads: f.heads,
      num_key_value_heads: f.kv, intermediate_size: f.inter, vocab_size: f.vocab, tie_word_embeddings: f.tied, rms_norm_eps: f.eps,
      rope_theta: f.theta, max_position_embeddings: f.maxPos, bos_token_id: f.bos, eos_token_id: f.eos, hidden_act: 'silu',
    });
    // Frozen: a caller edits a copy.
    expect(Object.isFrozen(raw)).toBe(true);
    const copy = presetConfigJson(name);
    copy.num_hidden_layers = 1;
    expect(raw.num_hidden_layers).toBe(f.layers);
  });

  it('parses with parseModelConfig into the sizes of the model', () => {
    const c = parseModelConfig(raw);
    expect(presetModelConfig(name)).toEqual(c);
    expect(c.modelType).toBe(f.type);
    expect(c.architecture).toBe('llama');
    expect(c.headDim).toBe(64);
    expect(c.numHeads * c.headDim).toBe(f.d);
    expect(c.numHeads / c.numKvHeads).toBe(f.heads / f.kv); // queries per key/value head
    expect(c.numKvHeads * c.headDim).toBe(f.kv * 64); // k_proj and v_proj rows
    expect([c.vocabSize, c.hiddenSize, c.numLayers, c.intermediateSize, c.maxPositions]).toEqual([f.vocab, f.d, f.layers, f.inter, f.maxPos]);
    expect([c.normEps, c.ropeTheta, c.tieWordEmbeddings]).toEqual([f.eps, f.theta, f.tied]);
    expect(c.qkvBias).toBe(f.type === 'qwen2');
    expect(c.oBias).toBe(false);
    expect(c.mlpBias).toBe(false);
    expect(c.bosTokenId).toBe(f.bos);
    expect(c.eosTokenIds).toEqual([f.eos]);
  });

  it('has the published parameter count, by hand and by the tensors the code expects', () => {
    expect(handCount(raw)).toBe(f.params);
    const c = parseModelConfig(raw);
    const total = expectedTensors(c).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(total).toBe(f.params);
  });
});

describe('presets', () => {
  it('SmolLM2-135M is about 134.5M parameters, tied: the embedding is a fifth of them', () => {
    // 49152·576 = 28,311,552 embedding; 30 layers of 576·576·2 + 2·576·192 + 3·576·1536 + 2·576 = 3,540,096; final norm 576.
    expect(49152 * 576 + 30 * (576 * 576 * 2 + 2 * 576 * 192 + 3 * 576 * 1536 + 2 * 576) + 576).toBe(134_515_008);
    expect(handCount(MODEL_PRESETS['smollm2-135m'].config as Raw) / 1e6).toBeCloseTo(134.5, 1);
  });

  it('Qwen2.5-0.5B: vocab_size 151936 leaves room past eos 151643', () => {
    const c = presetModelConfig('qwen2.5-0.5b');
    expect(c.vocabSize - c.eosTokenIds[0]).toBe(293);
  });

  it('an unknown name throws, listing the presets', () => {
    expect(modelPreset('smollm2-135m')).toBe(MODEL_PRESETS['smollm2-135m']);
    expect(() => modelPreset('llama-3-8b')).toThrow(/unknown model preset "llama-3-8b"; known presets: smollm2-135m, smollm2-360m, qwen2.5-0.5b, tinyllama-1.1b/);
  });
});
