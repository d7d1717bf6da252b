/**
 * The Llama family (transformers' LlamaForCausalLM and Qwen2ForCausalLM; SmolLM/SmolLM2 and TinyLlama are Llama):
 * RMSNorm, rotary positions, separate q/k/v projections with grouped-query attention, a SwiGLU MLP, nn.Linear
 * weights stored [out, in]. Qwen2 has q/k/v biases; Llama has them with attention_bias, and MLP biases with mlp_bias.
 */
import type { ArchitectureDescription, HfModule } from '../architecture';
import type { ConfigKeys } from '../config';

/** The config.json keys LlamaConfig and Qwen2Config name the sizes with (errors name them). */
export const LLAMA_CONFIG_KEYS: ConfigKeys = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  numKvHeads: 'num_key_value_heads',
  headDim: 'head_dim',
  intermediateSize: 'intermediate_size',
  maxPositions: 'max_position_embeddings',
};

export const LLAMA: ArchitectureDescription = {
  configKeys: LLAMA_CONFIG_KEYS,
  family: 'llama',
  modelTypes: ['llama', 'qwen2'],
  readConfig(read, modelType) {
    const K = LLAMA_CONFIG_KEYS;
    const hidden = read.posInt(K.hiddenSize);
    const heads = read.posInt(K.numHeads);
    const act = read.get('hidden_act') ?? 'silu';
    if (act !== 'silu') read.fail(`hidden_act ${JSON.stringify(act)} is not supported; expected "silu"`);
    const scaling = read.get('rope_scaling');
    if (scaling !== undefined && scaling !== null) {
      read.fail(`rope_scaling ${JSON.stringify(scaling)} is not supported yet; only plain RoPE is`);
    }
    const attentionBias = read.bool('attention_bias', false);
    const qwen2 = modelType === 'qwen2';
    const vocabSize = read.posInt(K.vocabSize);
    return {
      modelType,
      architecture: 'llama',
      vocabSize,
      hiddenSize: hidden,
      numLayers: read.posInt(K.numLayers),
      numHeads: heads,
      numKvHeads: read.posInt(K.numKvHeads, heads),
      headDim: read.posInt(K.headDim, hidden / heads),
      intermediateSize: read.posInt(K.intermediateSize),
      maxPositions: read.posInt(K.maxPositions, 2048),
      normEps: read.posNum('rms_norm_eps', 1e-6),
      ropeTheta: read.posNum('rope_theta', 10000),
      // transformers' default: Llama unties, Qwen2 configs state it; absent means false for both.
      tieWordEmbeddings: read.bool('tie_word_embeddings', false),
      // Qwen2's attention always has q/k/v biases and no o_proj bias.
      qkvBias: qwen2 || attentionBias,
      oBias: !qwen2 && attentionBias,
      mlpBias: read.bool('mlp_bias', false),
      bosTokenId: read.tokenId('bos_token_id', vocabSize),
      eosTokenIds: read.tokenIdList('eos_token_id', vocabSize),
      padTokenId: read.tokenId('pad_token_id', vocabSize),
    };
  },
  norm: 'rmsnorm',
  positions: 'rope',
  qkv: 'separate',
  mlp: 'swiglu',
  layout: 'linear',
  names: {
    tokenEmbedding: 'model.embed_tokens.weight',
    positionEmbedding: null,
    block: (i) => `model.layers.${i}`,
    norm1: 'input_layernorm',
    norm2: 'post_attention_layernorm',
    finalNorm: 'model.norm',
    lmHead: 'lm_head.weight',
  },
  linears: [
    { role: 'q', sub: 'self_attn.q_proj', sublayer: 'attention' },
    { role: 'k', sub: 'self_attn.k_proj', sublayer: 'attention' },
    { role: 'v', sub: 'self_attn.v_proj', sublayer: 'attention' },
    { role: 'o', sub: 'self_attn.o_proj', sublayer: 'attention' },
    { role: 'gate', sub: 'mlp.gate_proj', sublayer: 'mlp' },
    { role: 'up', sub: 'mlp.up_proj', sublayer: 'mlp' },
    { role: 'down', sub: 'mlp.down_proj', sublayer: 'mlp' },
  ],
  hasBias(c, role) {
    if (role === 'q' || role === 'k' || role === 'v') return c.qkvBias;
    if (role === 'o') return c.oBias;
    return c.mlpBias;
  },
  modules(c) {
    const out: HfModule[] = [];
    const add = (name: string, kind: HfModule['kind'] = 'other') => out.push({ name, kind });
    add('model');
    add('model.embed_tokens', 'embedding');
    add('model.layers');
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}`;
      add(p);
      add(`${p}.self_attn`);
      for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`${p}.self_attn.${n}`, 'linear');
      add(`${p}.mlp`);
      for (const n of ['gate_proj', 'up_proj', 'down_proj']) add(`${p}.mlp.${n}`, 'linear');
      add(`${p}.mlp.act_fn`);
      add(`${p}.input_layernorm`);
      add(`${p}.post_attention_layernorm`);
    }
    add('model.norm');
    add('model.rotary_emb');
    add('lm_head', 'output');
    return out;
  },
  canonicalTensorName(c, key) {
    // RoPE's inverse-frequency buffer, saved by older transformers per layer (or once, on model.rotary_emb).
    const invFreq = /^(?:model\.)?(?:layers\.(\d+)\.self_attn\.)?rotary_emb\.inv_freq$/.exec(key);
    if (invFreq && (invFreq[1] === undefined || Number(invFreq[1]) < c.numLayers)) return null;
    if (key === 'lm_head.weight' && c.tieWordEmbeddings) return null;
    return key;
  },
  defaultLoraTargets: { llama: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'] },
};
