/**
 * The tensors of each architecture under their Hugging Face names (the module paths of GPT2LMHeadModel and
 * LlamaForCausalLM / Qwen2ForCausalLM), with the shapes `config.json` implies. PEFT's adapter keys are
 * built from the same module paths (`base_model.model.<module>.lora_A.weight`).
 *
 * Shapes are as stored: GPT-2's Conv1D weights are [in, out]; nn.Linear weights are [out, in].
 */
import type { ModelConfig } from './config';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** A linear layer LoRA can target, with its module path and geometry. */
export interface LinearModuleSpec {
  /** Module path, e.g. "model.layers.0.self_attn.q_proj" or "transformer.h.0.attn.c_attn". */
  path: string;
  /** Short name PEFT's target_modules matches, e.g. "q_proj" or "c_attn". */
  shortName: string;
  layer: number;
  inFeatures: number;
  outFeatures: number;
  /** 'conv1d' for GPT-2's Conv1D ([in, out], fan_in_fan_out), 'linear' for nn.Linear ([out, in]). */
  layout: 'linear' | 'conv1d';
  hasBias: boolean;
}

/** Every linear layer of the model that LoRA may adapt, in execution order. */
export function linearModules(c: ModelConfig): LinearModuleSpec[] {
  const out: LinearModuleSpec[] = [];
  const d = c.hiddenSize;
  for (let i = 0; i < c.numLayers; i++) {
    if (c.architecture === 'gpt2') {
      const p = `transformer.h.${i}`;
      const add = (sub: string, inF: number, outF: number) =>
        out.push({ path: `${p}.${sub}`, shortName: sub.split('.').pop()!, layer: i, inFeatures: inF, outFeatures: outF, layout: 'conv1d', hasBias: true });
      add('attn.c_attn', d, 3 * d);
      add('attn.c_proj', d, d);
      add('mlp.c_fc', d, c.intermediateSize);
      add('mlp.c_proj', c.intermediateSize, d);
    } else {
      const p = `model.layers.${i}`;
      const q = c.numHeads * c.headDim;
      const kv = c.numKvHeads * c.headDim;
      const add = (sub: string, inF: number, outF: number, bias: boolean) =>
        out.push({ path: `${p}.${sub}`, shortName: sub.split('.').pop()!, layer: i, inFeatures: inF, outFeatures: outF, layout: 'linear', hasBias: bias });
      add('self_attn.q_proj', d, q, c.qkvBias);
      add('self_attn.k_proj', d, kv, c.qkvBias);
      add('self_attn.v_proj', d, kv, c.qkvBias);
      add('self_attn.o_proj', q, d, c.oBias);
      add('mlp.gate_proj', d, c.intermediateSize, c.mlpBias);
      add('mlp.up_proj', d, c.intermediateSize, c.mlpBias);
      add('mlp.down_proj', c.intermediateSize, d, c.mlpBias);
    }
  }
  return out;
}

/** Every tensor a checkpoint of this config must hold, with its stored shape. */
export function expectedTensors(c: ModelConfig): TensorSpec[] {
  const t: TensorSpec[] = [];
  const d = c.hiddenSize;
  if (c.architecture === 'gpt2') {
    t.push({ name: 'transformer.wte.weight', shape: [c.vocabSize, d] });
    t.push({ name: 'transformer.wpe.weight', shape: [c.maxPositions, d] });
    for (let i = 0; i < c.numLayers; i++) {
      const p = `transformer.h.${i}`;
      t.push({ name: `${p}.ln_1.weight`, shape: [d] }, { name: `${p}.ln_1.bias`, shape: [d] });
      t.push({ name: `${p}.ln_2.weight`, shape: [d] }, { name: `${p}.ln_2.bias`, shape: [d] });
    }
    t.push({ name: 'transformer.ln_f.weight', shape: [d] }, { name: 'transformer.ln_f.bias', shape: [d] });
  } else {
    t.push({ name: 'model.embed_tokens.weight', shape: [c.vocabSize, d] });
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}`;
      t.push({ name: `${p}.input_layernorm.weight`, shape: [d] }, { name: `${p}.post_attention_layernorm.weight`, shape: [d] });
    }
    t.push({ name: 'model.norm.weight', shape: [d] });
  }
  for (const m of linearModules(c)) {
    t.push({ name: `${m.path}.weight`, shape: m.layout === 'conv1d' ? [m.inFeatures, m.outFeatures] : [m.outFeatures, m.inFeatures] });
    if (m.hasBias) t.push({ name: `${m.path}.bias`, shape: [m.outFeatures] });
  }
  if (!c.tieWordEmbeddings) t.push({ name: 'lm_head.weight', shape: [c.vocabSize, d] });
  return t;
}

/**
 * The canonical name of a checkpoint key, or null for buffers that are not weights. GPT-2 checkpoints are
 * saved both with and without the "transformer." prefix, and older ones carry attention-mask buffers.
 */
export function canonicalTensorName(c: ModelConfig, key: string): string | null {
  if (c.architecture === 'gpt2') {
    if (/\.attn\.(masked_)?bias$/.test(key)) return null;
    if (key === 'lm_head.weight') return c.tieWordEmbeddings ? null : key;
    return key.startsWith('transformer.') ? key : `transformer.${key}`;
  }
  if (/\.rotary_emb\.inv_freq$/.test(key)) return null;
  if (key === 'lm_head.weight' && c.tieWordEmbeddings) return null;
  return key;
}

/** A model's tensors on the host, by canonical name, converted to f32. */
export type HostWeights = Map<string, { shape: number[]; data: Float32Array }>;
