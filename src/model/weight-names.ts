/**
 * The tensors of a model under their Hugging Face names, with the shapes `config.json` implies, read from the
 * family's description (architecture.ts). PEFT's adapter keys are built from the same module paths
 * (`base_model.model.<module>.lora_A.weight`).
 *
 * Shapes are as stored: Conv1D weights (GPT-2) are [in, out]; nn.Linear weights are [out, in].
 */
import type { LinearRole, Sublayer, WeightLayout } from './architecture';
import { architectureOf } from './architectures/index';
import type { ModelConfig } from './config';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** A linear layer of the model, with its module path, role and geometry. */
export interface LinearModuleSpec {
  /** Module path, e.g. "model.layers.0.self_attn.q_proj" or "transformer.h.0.attn.c_attn". */
  path: string;
  /** Short name PEFT's target_modules matches, e.g. "q_proj" or "c_attn". */
  shortName: string;
  layer: number;
  /** What the layer does in its block. */
  role: LinearRole;
  sublayer: Sublayer;
  inFeatures: number;
  outFeatures: number;
  /** 'conv1d' for GPT-2's Conv1D ([in, out], fan_in_fan_out), 'linear' for nn.Linear ([out, in]). */
  layout: WeightLayout;
  hasBias: boolean;
}

/** [in, out] of the linear layer of `role` in a block of this config. */
export function linearShape(c: ModelConfig, role: LinearRole): { inFeatures: number; outFeatures: number } {
  const d = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  switch (role) {
    case 'qkv':
      return { inFeatures: d, outFeatures: q + 2 * kv };
    case 'q':
      return { inFeatures: d, outFeatures: q };
    case 'k':
    case 'v':
      return { inFeatures: d, outFeatures: kv };
    case 'o':
      return { inFeatures: q, outFeatures: d };
    case 'fc':
    case 'gate':
    case 'up':
      return { inFeatures: d, outFeatures: I };
    case 'down':
      return { inFeatures: I, outFeatures: d };
  }
}

/** Every linear layer of the model but the output layer, in execution order. */
export function linearModules(c: ModelConfig): LinearModuleSpec[] {
  const arch = architectureOf(c);
  const out: LinearModuleSpec[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    for (const l of arch.linears) {
      out.push({
        path: `${arch.names.block(i)}.${l.sub}`,
        shortName: l.sub.split('.').pop()!,
        layer: i,
        role: l.role,
        sublayer: l.sublayer,
        ...linearShape(c, l.role),
        layout: arch.layout,
        hasBias: arch.hasBias(c, l.role),
      });
    }
  }
  return out;
}

/** The stored shape of a linear weight [out, in] in a layout. */
export function storedShape(layout: WeightLayout, outFeatures: number, inFeatures: number): number[] {
  return layout === 'conv1d' ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
}

/** The norm tensors (weight, and bias for LayerNorm) of a norm module. */
export function normTensorNames(c: ModelConfig, module: string): { weight: string; bias: string | null } {
  return { weight: `${module}.weight`, bias: architectureOf(c).norm === 'layernorm' ? `${module}.bias` : null };
}

/** Every tensor a checkpoint of this config must hold, with its stored shape. */
export function expectedTensors(c: ModelConfig): TensorSpec[] {
  const arch = architectureOf(c);
  const { names } = arch;
  const d = c.hiddenSize;
  const t: TensorSpec[] = [];
  const norm = (module: string) => {
    const n = normTensorNames(c, module);
    t.push({ name: n.weight, shape: [d] });
    if (n.bias) t.push({ name: n.bias, shape: [d] });
  };
  t.push({ name: names.tokenEmbedding, shape: [c.vocabSize, d] });
  if (names.positionEmbedding) t.push({ name: names.positionEmbedding, shape: [c.maxPositions, d] });
  for (let i = 0; i < c.numLayers; i++) {
    norm(`${names.block(i)}.${names.norm1}`);
    norm(`${names.block(i)}.${names.norm2}`);
  }
  norm(names.finalNorm);
  for (const m of linearModules(c)) {
    t.push({ name: `${m.path}.weight`, shape: storedShape(m.layout, m.outFeatures, m.inFeatures) });
    if (m.hasBias) t.push({ name: `${m.path}.bias`, shape: [m.outFeatures] });
  }
  if (!c.tieWordEmbeddings) t.push({ name: names.lmHead, shape: [c.vocabSize, d] });
  return t;
}

/**
 * The tensors and parameters outside the blocks and in each block, computed from a 0- and a 1-layer config, so
 * that counts can be bounded before anything loops over the layers a config claims.
 */
export function tensorFootprint(c: ModelConfig): { otherTensors: number; tensorsPerLayer: number; otherParams: number; paramsPerLayer: number } {
  const count = (t: TensorSpec[]) => t.reduce((n, x) => n + x.shape.reduce((a, b) => a * b, 1), 0);
  const none = expectedTensors({ ...c, numLayers: 0 });
  const one = expectedTensors({ ...c, numLayers: 1 });
  return {
    otherTensors: none.length,
    tensorsPerLayer: one.length - none.length,
    otherParams: count(none),
    paramsPerLayer: count(one) - count(none),
  };
}

/** The canonical name of a checkpoint key, or null for entries that are not weights (see the description). */
export function canonicalTensorName(c: ModelConfig, key: string): string | null {
  return architectureOf(c).canonicalTensorName(c, key);
}

/** A model's tensors on the host, by canonical name, converted to f32. */
export type HostWeights = Map<string, { shape: number[]; data: Float32Array }>;
