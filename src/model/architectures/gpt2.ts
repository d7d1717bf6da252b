/**
 * GPT-2 (transformers' GPT2LMHeadModel): LayerNorm, learned positions (wpe), a fused q|k|v projection (c_attn),
 * a GELU (tanh) MLP, Conv1D weights stored [in, out], biases everywhere, lm_head tied to wte unless untied.
 */
import type { ArchitectureDescription, HfModule } from '../architecture';
import type { ConfigKeys } from '../config';

/** The config.json keys GPT2Config names the sizes with (errors name them). */
export const GPT2_CONFIG_KEYS: ConfigKeys = {
  vocabSize: 'vocab_size',
  hiddenSize: 'n_embd',
  numLayers: 'n_layer',
  numHeads: 'n_head',
  numKvHeads: 'n_head',
  headDim: 'n_embd / n_head',
  intermediateSize: 'n_inner',
  maxPositions: 'n_positions',
};

export const GPT2: ArchitectureDescription = {
  configKeys: GPT2_CONFIG_KEYS,
  family: 'gpt2',
  modelTypes: ['gpt2'],
  readConfig(read, modelType) {
    const K = GPT2_CONFIG_KEYS;
    const hidden = read.posInt(K.hiddenSize, 768);
    const heads = read.posInt(K.numHeads, 12);
    const act = read.get('activation_function') ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
      read.fail(`activation_function ${JSON.stringify(act)} is not supported for gpt2; expected "gelu_new"`);
    }
    const vocabSize = read.posInt(K.vocabSize, 50257);
    return {
      modelType,
      architecture: 'gpt2',
      vocabSize,
      hiddenSize: hidden,
      numLayers: read.posInt(K.numLayers, 12),
      numHeads: heads,
      numKvHeads: heads,
      headDim: hidden / heads,
      intermediateSize: read.posInt(K.intermediateSize, 4 * hidden),
      maxPositions: read.posInt(K.maxPositions, 1024),
      normEps: read.posNum('layer_norm_epsilon', 1e-5),
      ropeTheta: 0,
      tieWordEmbeddings: read.bool('tie_word_embeddings', true),
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      bosTokenId: read.tokenId('bos_token_id', vocabSize),
      eosTokenIds: read.tokenIdList('eos_token_id', vocabSize),
      padTokenId: read.tokenId('pad_token_id', vocabSize),
    };
  },
  norm: 'layernorm',
  positions: 'learned',
  qkv: 'fused',
  mlp: 'gelu',
  layout: 'conv1d',
  names: {
    tokenEmbedding: 'transformer.wte.weight',
    positionEmbedding: 'transformer.wpe.weight',
    block: (i) => `transformer.h.${i}`,
    norm1: 'ln_1',
    norm2: 'ln_2',
    finalNorm: 'transformer.ln_f',
    lmHead: 'lm_head.weight',
  },
  linears: [
    { role: 'qkv', sub: 'attn.c_attn', sublayer: 'attention' },
    { role: 'o', sub: 'attn.c_proj', sublayer: 'attention' },
    { role: 'fc', sub: 'mlp.c_fc', sublayer: 'mlp' },
    { role: 'down', sub: 'mlp.c_proj', sublayer: 'mlp' },
  ],
  hasBias: () => true,
  modules(c) {
    const out: HfModule[] = [];
    const add = (name: string, kind: HfModule['kind'] = 'other') => out.push({ name, kind });
    add('transformer');
    add('transformer.wte', 'embedding');
    add('transformer.wpe', 'embedding');
    add('transformer.drop');
    add('transformer.h');
    for (let i = 0; i < c.numLayers; i++) {
      const p = `transformer.h.${i}`;
      add(p);
      add(`${p}.ln_1`);
      add(`${p}.attn`);
      add(`${p}.attn.c_attn`, 'linear');
      add(`${p}.attn.c_proj`, 'linear');
      add(`${p}.attn.attn_dropout`);
      add(`${p}.attn.resid_dropout`);
      add(`${p}.ln_2`);
      add(`${p}.mlp`);
      add(`${p}.mlp.c_fc`, 'linear');
      add(`${p}.mlp.c_proj`, 'linear');
      add(`${p}.mlp.act`);
      add(`${p}.mlp.dropout`);
    }
    add('transformer.ln_f');
    // A separate module even when its weight is tied to the embedding.
    add('lm_head', 'output');
    return out;
  },
  canonicalTensorName(c, key) {
    // The causal-mask buffers old checkpoints saved, of a layer the config has; any other "bias" is a weight.
    const buffer = /^(?:transformer\.)?h\.(\d+)\.attn\.(?:masked_)?bias$/.exec(key);
    if (buffer && Number(buffer[1]) < c.numLayers) return null;
    if (key === 'lm_head.weight') return c.tieWordEmbeddings ? null : key;
    return key.startsWith('transformer.') ? key : `transformer.${key}`;
  },
  defaultLoraTargets: { gpt2: ['c_attn'] },
};
