/**
 * A Hugging Face `config.json`, read into the few numbers the engine needs, for the architectures it
 * supports. Each family reads its own fields (`architectures/*.ts`, with transformers' names and defaults);
 * this module checks what every family needs.
 */
import { architectureForModelType, configKeysOf } from './architectures/index';
import { ConfigError, ConfigReader } from './config-reader';
import { tensorFootprint } from './weight-names';

export { ConfigError } from './config-reader';

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The model families (architectures/*.ts): GPT-2, and the Llama family (Llama, SmolLM/SmolLM2, TinyLlama, Qwen2). */
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

/** The sizes of a ModelConfig that config.json gives (or derives), each family naming them its own way. */
export type SizeField = 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'maxPositions';
/** The config.json key (or the keys it is derived from) behind each size, for errors. */
export type ConfigKeys = Record<SizeField, string>;

/** Parses and checks a config.json object. `file` names it in errors. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${file}: expected a JSON object`);
  }
  const cfg = json as Record<string, unknown>;
  const rawType = cfg.model_type;
  const arch = typeof rawType === 'string' ? architectureForModelType(rawType) : undefined;
  if (arch === undefined || !(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(rawType)) {
    throw new ConfigError(
      `${file}: model_type ${JSON.stringify(rawType)} is not supported; supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}`,
    );
  }
  const c = arch.readConfig(new ConfigReader(cfg, file), rawType as ModelType);
  if (!Number.isInteger(c.headDim)) {
    throw new ConfigError(`${file}: hidden size ${c.hiddenSize} is not divisible by the ${c.numHeads} attention heads`);
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ConfigError(`${file}: num_attention_heads ${c.numHeads} is not a multiple of num_key_value_heads ${c.numKvHeads}`);
  }
  if (arch.positions === 'rope' && c.headDim % 2 !== 0) {
    throw new ConfigError(`${file}: head_dim ${c.headDim} must be even for rotary position embeddings`);
  }
  checkSizeProducts(c, arch.positions, file);
  return c;
}

/**
 * Every size is at most 2^31 - 1 (ConfigReader), but their products can pass 2^53, where counts and offsets stop
 * being exact: refuse a tensor, a RoPE table or a parameter total that large (no checkpoint can hold it), naming the
 * keys. The total is computed from one block, so a huge layer count costs nothing here.
 */
function checkSizeProducts(c: ModelConfig, positions: 'learned' | 'rope', file: string): void {
  const k = configKeysOf(c);
  const products: [string, SizeField[]][] = [
    ['the token embedding', ['vocabSize', 'hiddenSize']],
    positions === 'learned' ? ['the position table', ['maxPositions', 'hiddenSize']] : ['the RoPE table', ['maxPositions', 'headDim']],
    ['the MLP weights', ['intermediateSize', 'hiddenSize']],
    ['the query projection', ['numHeads', 'headDim', 'hiddenSize']],
    ['the key/value projections', ['numKvHeads', 'headDim', 'hiddenSize']],
  ];
  for (const [what, fields] of products) {
    const n = fields.reduce((p, f) => p * c[f], 1);
    if (n > Number.MAX_SAFE_INTEGER) {
      throw new ConfigError(
        `${file}: ${fields.map((f) => `${k[f]} ${c[f]}`).join(' × ')} make ${what} ${n.toExponential(2)} values, more than 2^53; ` +
          `no checkpoint can hold that`,
      );
    }
  }
  const size = tensorFootprint(c);
  if (size.otherParams + c.numLayers * size.paramsPerLayer > Number.MAX_SAFE_INTEGER) {
    throw new ConfigError(
      `${file}: ${k.numLayers} ${c.numLayers} layers of ${size.paramsPerLayer} parameters each make more than 2^53 parameters; ` +
        `no checkpoint can hold that`,
    );
  }
}
