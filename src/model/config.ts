/**
 * A Hugging Face `config.json`, read into the few numbers the engine needs, for the architectures it
 * supports. Field names and defaults follow transformers' GPT2Config, LlamaConfig and Qwen2Config.
 */

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The two computation graphs: GPT-2, and the Llama family (Llama, SmolLM/SmolLM2, TinyLlama, Qwen2). */
export type Architecture = 'gpt2' | 'llama';

export interface ModelConfig {
  modelType: ModelType;
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads; numHeads for GPT-2 and for Llama without grouped-query attention. */
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** Longest sequence the position encoding covers (GPT-2 n_positions, Llama max_position_embeddings). */
  maxPositions: number;
  /** LayerNorm epsilon (GPT-2) or RMSNorm epsilon (Llama family). */
  normEps: number;
  /** RoPE base (Llama family); 0 for GPT-2. */
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v projections: Qwen2 always, Llama when attention_bias is set. */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias); GPT-2 has biases everywhere. */
  oBias: boolean;
  /** Biases on the MLP projections (Llama mlp_bias). */
  mlpBias: boolean;
  bosTokenId: number | null;
  /** End-of-sequence ids; generation stops on any of them. */
  eosTokenIds: number[];
  padTokenId: number | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

function num(cfg: Json, file: string, key: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${file}: "${key}" is missing; it is required for model_type "${String(cfg.model_type)}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${file}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(cfg: Json, file: string, key: string, fallback?: number): number {
  const v = num(cfg, file, key, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${file}: "${key}" must be a positive integer, got ${v}`);
  return v;
}

function optionalId(cfg: Json, key: string): number | null {
  const v = cfg[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

function idList(cfg: Json, key: string): number[] {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

/** Parses and checks a config.json object. `file` names it in errors. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${file}: expected a JSON object`);
  }
  const cfg = json as Json;
  const rawType = cfg.model_type;
  if (typeof rawType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(rawType)) {
    throw new ConfigError(
      `${file}: model_type ${JSON.stringify(rawType)} is not supported; supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}`,
    );
  }
  const modelType = rawType as ModelType;
  let c: ModelConfig;
  if (modelType === 'gpt2') {
    const hidden = posInt(cfg, file, 'n_embd', 768);
    const heads = posInt(cfg, file, 'n_head', 12);
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
      throw new ConfigError(`${file}: activation_function ${JSON.stringify(act)} is not supported for gpt2; expected "gelu_new"`);
    }
    c = {
      modelType,
      architecture: 'gpt2',
      vocabSize: posInt(cfg, file, 'vocab_size', 50257),
      hiddenSize: hidden,
      numLayers: posInt(cfg, file, 'n_layer', 12),
      numHeads: heads,
      numKvHeads: heads,
      headDim: hidden / heads,
      intermediateSize: posInt(cfg, file, 'n_inner', 4 * hidden),
      maxPositions: posInt(cfg, file, 'n_positions', 1024),
      normEps: num(cfg, file, 'layer_norm_epsilon', 1e-5),
      ropeTheta: 0,
      tieWordEmbeddings: cfg.tie_word_embeddings !== false,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      bosTokenId: optionalId(cfg, 'bos_token_id'),
      eosTokenIds: idList(cfg, 'eos_token_id'),
      padTokenId: optionalId(cfg, 'pad_token_id'),
    };
  } else {
    const hidden = posInt(cfg, file, 'hidden_size');
    const heads = posInt(cfg, file, 'num_attention_heads');
    const act = cfg.hidden_act ?? 'silu';
    if (act !== 'silu') throw new ConfigError(`${file}: hidden_act ${JSON.stringify(act)} is not supported; expected "silu"`);
    const scaling = cfg.rope_scaling;
    if (scaling !== undefined && scaling !== null) {
      throw new ConfigError(`${file}: rope_scaling ${JSON.stringify(scaling)} is not supported yet; only plain RoPE is`);
    }
    const attentionBias = cfg.attention_bias === true;
    c = {
      modelType,
      architecture: 'llama',
      vocabSize: posInt(cfg, file, 'vocab_size'),
      hiddenSize: hidden,
      numLayers: posInt(cfg, file, 'num_hidden_layers'),
      numHeads: heads,
      numKvHeads: posInt(cfg, file, 'num_key_value_heads', heads),
      headDim: posInt(cfg, file, 'head_dim', hidden / heads),
      intermediateSize: posInt(cfg, file, 'intermediate_size'),
      maxPositions: posInt(cfg, file, 'max_position_embeddings', 2048),
      normEps: num(cfg, file, 'rms_norm_eps', 1e-6),
      ropeTheta: num(cfg, file, 'rope_theta', 10000),
      // transformers' default: Llama unties, Qwen2 configs state it; absent means false for both.
      tieWordEmbeddings: cfg.tie_word_embeddings === true,
      qkvBias: modelType === 'qwen2' || attentionBias,
      oBias: modelType !== 'qwen2' && attentionBias,
      mlpBias: cfg.mlp_bias === true,
      bosTokenId: optionalId(cfg, 'bos_token_id'),
      eosTokenIds: idList(cfg, 'eos_token_id'),
      padTokenId: optionalId(cfg, 'pad_token_id'),
    };
  }
  if (!Number.isInteger(c.headDim)) {
    throw new ConfigError(`${file}: hidden size ${c.hiddenSize} is not divisible by the ${c.numHeads} attention heads`);
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ConfigError(`${file}: num_attention_heads ${c.numHeads} is not a multiple of num_key_value_heads ${c.numKvHeads}`);
  }
  if (c.architecture === 'llama' && c.headDim % 2 !== 0) {
    throw new ConfigError(`${file}: head_dim ${c.headDim} must be even for rotary position embeddings`);
  }
  return c;
}
