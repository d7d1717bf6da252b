/**
 * The `config.json` of a few small models people fine-tune, as the Hugging Face Hub serves them (the fields
 * transformers wrote, with their values and spelling: `1e-05`, `10000.0`, `null`), keyed by a short name. They
 * give tests and tools the real shapes — vocabulary, head layout, MLP width, RoPE base, tying — without a download;
 * `parseModelConfig` reads each as it reads the downloaded file.
 *
 * Plain JSON data: nothing here imports the engine. The objects are frozen; copy one before changing it.
 */
import { parseModelConfig, type ModelConfig } from './config';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

export interface ModelPreset {
  /** The Hub repo the config comes from. */
  repo: string;
  /** Its config.json, as a JSON object. */
  config: JsonObject;
}

export const MODEL_PRESET_NAMES = ['smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b', 'tinyllama-1.1b'] as const;
export type ModelPresetName = (typeof MODEL_PRESET_NAMES)[number];

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

export const MODEL_PRESETS: Readonly<Record<ModelPresetName, ModelPreset>> = deepFreeze({
  // SmolLM2 was trained with nanotron and converted: hence is_llama_config and rope_interleaved.
  'smollm2-135m': {
    repo: 'HuggingFaceTB/SmolLM2-135M',
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 576,
      initializer_range: 0.041666666666666664,
      intermediate_size: 1536,
      is_llama_config: true,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      vocab_size: 49152,
    },
  },
  'smollm2-360m': {
    repo: 'HuggingFaceTB/SmolLM2-360M',
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 960,
      initializer_range: 0.02,
      intermediate_size: 2560,
      is_llama_config: true,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 15,
      num_hidden_layers: 32,
      num_key_value_heads: 5,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      vocab_size: 49152,
    },
  },
  // vocab_size 151936 is the embedding's row count, padded past the tokenizer's 151665 tokens (151643 BPE tokens
  // and 22 added ones): ids 151665..151935 are rows no tokenizer id reaches.
  'qwen2.5-0.5b': {
    repo: 'Qwen/Qwen2.5-0.5B',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
  },
  // The chat model of TinyLlama's 3T-token run (TinyLlama-1.1B-intermediate-step-1431k-3T), same shapes.
  'tinyllama-1.1b': {
    repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 5632,
      max_position_embeddings: 2048,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 22,
      num_key_value_heads: 4,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.35.0',
      use_cache: true,
      vocab_size: 32000,
    },
  },
});

export function isModelPresetName(name: string): name is ModelPresetName {
  return (MODEL_PRESET_NAMES as readonly string[]).includes(name);
}

/** The preset of a short name; an unknown name throws, listing the known ones. */
export function modelPreset(name: string): ModelPreset {
  if (!isModelPresetName(name)) throw new RangeError(`unknown model preset "${name}"; known presets: ${MODEL_PRESET_NAMES.join(', ')}`);
  return MODEL_PRESETS[name];
}

/** A preset's config.json as a mutable deep copy, to edit or write out. */
export function presetConfigJson(name: ModelPresetName): Record<string, JsonValue> {
  return structuredClone(MODEL_PRESETS[name].config) as Record<string, JsonValue>;
}

/** A preset's config read by parseModelConfig (the file named after the repo in errors). */
export function presetModelConfig(name: ModelPresetName): ModelConfig {
  const p = MODEL_PRESETS[name];
  return parseModelConfig(p.config, `${p.repo}/config.json`);
}
