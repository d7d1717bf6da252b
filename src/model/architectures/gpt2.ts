/**
 * GPT-2 (transformers' GPT2LMHeadModel): LayerNorm, learned positions (wpe), a fused q|k|v projection (c_attn),
 * a GELU (tanh) MLP, Conv1D weights stored [in, out], biases everywhere, lm_head tied to wte unless untied.
 */
import type { ArchitectureDescription, HfModule } from '../architecture';

export const GPT2: ArchitectureDescription = {
  family: 'gpt2',
  modelTypes: ['gpt2'],
  readConfig(read, modelType) {
    const hidden = read.posInt('n_embd', 768);
    const heads = read.posInt('n_head', 12);
    const act = read.get('activation_function') ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
      read.fail(`activation_function ${JSON.stringify(act)} is not supported for gpt2; expected "gelu_new"`);
    }
    return {
      modelType,
      architecture: 'gpt2',
      vocabSize: read.posInt('vocab_size', 50257),
      hiddenSize: hidden,
      numLayers: read.posInt('n_layer', 12),
      numHeads: heads,
      numKvHeads: heads,
      headDim: hidden / heads,
      intermediateSize: read.posInt('n_inner', 4 * hidden),
      maxPositions: read.posInt('n_positions', 1024),
      normEps: read.num('layer_norm_epsilon', 1e-5),
      ropeTheta: 0,
      tieWordEmbeddings: read.get('tie_word_embeddings') !== false,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      bosTokenId: read.optionalId('bos_token_id'),
      eosTokenIds: read.idList('eos_token_id'),
      padTokenId: read.optionalId('pad_token_id'),
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
    if (/\.attn\.(masked_)?bias$/.test(key)) return null;
    if (key === 'lm_head.weight') return c.tieWordEmbeddings ? null : key;
    return key.startsWith('transformer.') ? key : `transformer.${key}`;
  },
  defaultLoraTargets: { gpt2: ['c_attn'] },
};
