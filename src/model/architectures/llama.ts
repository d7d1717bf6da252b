/**
 * The Llama family (transformers' LlamaForCausalLM and Qwen2ForCausalLM; SmolLM/SmolLM2 and TinyLlama are Llama):
 * RMSNorm, rotary positions, separate q/k/v projections with grouped-query attention, a SwiGLU MLP, nn.Linear
 * weights stored [out, in]. Qwen2 has q/k/v biases; Llama has them with attention_bias, and MLP biases with mlp_bias.
 */
import type { ArchitectureDescription, HfModule } from '../architecture';

export const LLAMA: ArchitectureDescription = {
  family: 'llama',
  modelTypes: ['llama', 'qwen2'],
  readConfig(read, modelType) {
    const hidden = read.posInt('hidden_size');
    const heads = read.posInt('num_attention_heads');
    const act = read.get('hidden_act') ?? 'silu';
    if (act !== 'silu') read.fail(`hidden_act ${JSON.stringify(act)} is not supported; expected "silu"`);
    const scaling = read.get('rope_scaling');
    if (scaling !== undefined && scaling !== null) {
      read.fail(`rope_scaling ${JSON.stringify(scaling)} is not supported yet; only plain RoPE is`);
    }
    const attentionBias = read.get('attention_bias') === true;
    const qwen2 = modelType === 'qwen2';
    return {
      modelType,
      architecture: 'llama',
      vocabSize: read.posInt('vocab_size'),
      hiddenSize: hidden,
      numLayers: read.posInt('num_hidden_layers'),
      numHeads: heads,
      numKvHeads: read.posInt('num_key_value_heads', heads),
      headDim: read.posInt('head_dim', hidden / heads),
      intermediateSize: read.posInt('intermediate_size'),
      maxPositions: read.posInt('max_position_embeddings', 2048),
      normEps: read.num('rms_norm_eps', 1e-6),
      ropeTheta: read.num('rope_theta', 10000),
      // transformers' default: Llama unties, Qwen2 configs state it; absent means false for both.
      tieWordEmbeddings: read.get('tie_word_embeddings') === true,
      // Qwen2's attention always has q/k/v biases and no o_proj bias.
      qkvBias: qwen2 || attentionBias,
      oBias: !qwen2 && attentionBias,
      mlpBias: read.get('mlp_bias') === true,
      bosTokenId: read.optionalId('bos_token_id'),
      eosTokenIds: read.idList('eos_token_id'),
      padTokenId: read.optionalId('pad_token_id'),
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
    if (/\.rotary_emb\.inv_freq$/.test(key)) return null;
    if (key === 'lm_head.weight' && c.tieWordEmbeddings) return null;
    return key;
  },
  defaultLoraTargets: { llama: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'] },
};
