/**
 * What the engine needs to know about a model family, in one description per family
 * (`architectures/gpt2.ts`, `architectures/llama.ts`): how the block computes (norm, positions, q/k/v fusion,
 * MLP), how its weights are stored (layout, tensor names, biases) and its module tree as PEFT walks it. The GPU
 * model, the training pass, generation, the float64 reference, PEFT's target matching and the checkpoint loader
 * all read the description; none of them tests the family's name.
 *
 * Adding a family means writing one description (with its tensor names) and listing it in `architectures/index.ts`.
 */
import type { ConfigReader } from './config-reader';
import type { ConfigKeys, ModelConfig, ModelType } from './config';

export type NormKind = 'layernorm' | 'rmsnorm';
export type PositionKind = 'learned' | 'rope';
export type MlpKind = 'gelu' | 'swiglu';
/** nn.Linear stores W as [out, in]; GPT-2's Conv1D as [in, out]. */
export type WeightLayout = 'linear' | 'conv1d';

/**
 * What a linear layer does in the block. 'qkv' is a fused q|k|v projection; 'fc' is the MLP's input projection of
 * a GELU MLP; 'gate' and 'up' are the two input projections of a SwiGLU MLP; 'o' and 'down' write to the residual.
 */
export type LinearRole = 'qkv' | 'q' | 'k' | 'v' | 'o' | 'fc' | 'gate' | 'up' | 'down';

/** The sublayers whose output joins the residual stream (where bottleneck adapters attach). */
export type Sublayer = 'attention' | 'mlp';

export interface LinearDescription {
  role: LinearRole;
  /** Module path inside a block, e.g. "attn.c_attn" or "self_attn.q_proj". */
  sub: string;
  sublayer: Sublayer;
}

/** A module of the Hugging Face model as `named_modules()` lists it, and what kind of module it is. */
export interface HfModule {
  name: string;
  kind: 'linear' | 'embedding' | 'output' | 'other';
}

export interface TensorNames {
  tokenEmbedding: string;
  /** Learned positions (GPT-2's wpe); null with rotary positions. */
  positionEmbedding: string | null;
  /** The module path of block i, e.g. "transformer.h.3". */
  block(i: number): string;
  /** The norms of a block (before attention, before the MLP), inside the block. */
  norm1: string;
  norm2: string;
  /** The final norm's module path. */
  finalNorm: string;
  /** The untied output layer's weight. */
  lmHead: string;
}

export interface ArchitectureDescription {
  /** The family name (ModelConfig.architecture); only src/model uses it, as the registry key. */
  family: ModelConfig['architecture'];
  modelTypes: readonly ModelType[];
  /** Reads the family's config.json fields (names and defaults as transformers' config classes). */
  readConfig(read: ConfigReader, modelType: ModelType): ModelConfig;
  /** The config.json keys it names its sizes with ("n_layer" or "num_hidden_layers", …), for errors about them. */
  configKeys: ConfigKeys;
  norm: NormKind;
  positions: PositionKind;
  /** 'fused': one qkv projection whose output is [q | k | v]; 'separate': q, k and v projections. */
  qkv: 'fused' | 'separate';
  mlp: MlpKind;
  layout: WeightLayout;
  names: TensorNames;
  /** The linear layers of a block, in execution order. */
  linears: readonly LinearDescription[];
  /** Whether the linear layer of `role` has a bias in this config. */
  hasBias(c: ModelConfig, role: LinearRole): boolean;
  /** `named_modules()` of the whole model in order (without the root ""), for PEFT's target matching. */
  modules(c: ModelConfig): HfModule[];
  /**
   * The name a checkpoint key stands for, or null for entries that are not weights of ours (buffers, a tied
   * lm_head). GPT-2 checkpoints are saved both with and without the "transformer." prefix.
   */
  canonicalTensorName(c: ModelConfig, key: string): string | null;
  /** PEFT's default LoRA target_modules per model type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
  defaultLoraTargets: Readonly<Partial<Record<ModelType, readonly string[]>>>;
}
