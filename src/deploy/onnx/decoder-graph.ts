/**
 * A causal LM as one ONNX graph with a KV cache, in the interface transformers.js runs for text generation
 * (Optimum's "decoder_model_merged" without the use_cache_branch input: an empty past is a past of length 0):
 *
 *   inputs   input_ids [batch_size, sequence_length] int64
 *            attention_mask [batch_size, total_sequence_length] int64 (past and new positions)
 *            position_ids [batch_size, sequence_length] int64
 *            past_key_values.{i}.key / .value [batch_size, kv_heads, past_sequence_length, head_dim] float32
 *   outputs  logits [batch_size, sequence_length, vocab_size] float32
 *            present.{i}.key / .value [batch_size, kv_heads, total_sequence_length, head_dim] float32
 *
 * The block is read from the architecture description (src/model/architecture.ts): LayerNorm or RMSNorm, learned
 * or rotary positions (HF's rotate-half form), fused or separate q/k/v, GELU (tanh) or SwiGLU MLP, grouped-query
 * attention, biases where the config has them, and a tied or untied lm_head. Weights are the merged model's
 * (src/deploy/merged-model.ts) by their Hugging Face names.
 */
import type { LinearRole } from '../../model/architecture';
import { architectureOf } from '../../model/architectures';
import type { ModelConfig } from '../../model/config';
import { linearShape, normTensorNames, type HostWeights } from '../../model/weight-names';
import { OnnxGraph } from './onnx-graph';
import { quantizeQ4, quantizeQ8, Q4_BLOCK, type OnnxQuant } from './onnx-quant';

/** The default-domain opset (LayerNormalization needs 17; onnxruntime-web 1.14 reads up to 18). */
export const DECODER_OPSET = 17;

export const ONNX_INPUT = { ids: 'input_ids', mask: 'attention_mask', positions: 'position_ids' } as const;
export const pastName = (layer: number, kv: 'key' | 'value') => `past_key_values.${layer}.${kv}`;
export const presentName = (layer: number, kv: 'key' | 'value') => `present.${layer}.${kv}`;

/** float32's most negative value, which masked attention scores take (as transformers does). */
const MASKED = -3.4028234663852886e38;

export interface DecoderGraphOptions {
  quant?: OnnxQuant;
  /** Receives the dequantized weight of each quantized linear layer, [out, in] (tests run the reference on it). */
  onDequantized?: (name: string, wOutIn: Float32Array) => void;
}

function tensor(weights: HostWeights, name: string): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`ONNX export: the merged model has no tensor "${name}"`);
  return t.data;
}

/** [rows, cols] → [cols, rows]. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

export function buildDecoderGraph(config: ModelConfig, weights: HostWeights, opts: DecoderGraphOptions = {}): OnnxGraph {
  const arch = architectureOf(config);
  const quant = opts.quant ?? 'none';
  const g = new OnnxGraph('peft_studio_causal_lm', DECODER_OPSET);
  if (quant === 'q4') g.useDomain('com.microsoft', 1);
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, vocabSize: V } = config;

  const ids = g.input(ONNX_INPUT.ids, 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input(ONNX_INPUT.mask, 'int64', ['batch_size', 'total_sequence_length']);
  const positions = g.input(ONNX_INPUT.positions, 'int64', ['batch_size', 'sequence_length']);
  const pastDims = ['batch_size', KVH, 'past_sequence_length', D];
  for (let i = 0; i < config.numLayers; i++) for (const kv of ['key', 'value'] as const) g.input(pastName(i, kv), 'float32', pastDims);

  // Which keys each query may see: key position t ≤ past + s (causal) and attention_mask[b, t] = 1.
  const zero = g.constInt([0], []);
  const one = g.constInt([1], []);
  const S = g.op('Gather', [g.op('Shape', [ids]), one], { axis: { i: 0 } });
  const T = g.op('Gather', [g.op('Shape', [mask]), one], { axis: { i: 0 } });
  const keyPos = g.op('Range', [zero, T, one]);
  const queryPos = g.op('Range', [g.op('Sub', [T, S]), T, one]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyPos, g.constInt([0])]), g.op('Unsqueeze', [queryPos, g.constInt([1])])]);
  const padding = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { i: 9 } }), g.constInt([1, 2])]);
  const allowed = g.op('And', [causal, padding]); // [B, 1, S, T]
  const masked = g.constFloat([MASKED], []);

  // Rotary tables (HF: inv_freq = θ^(−2j/D), emb = [freqs, freqs]), gathered by position_ids.
  let cos = '';
  let sin = '';
  if (arch.positions === 'rope') {
    const P = config.maxPositions;
    const cosT = new Float32Array(P * D);
    const sinT = new Float32Array(P * D);
    for (let p = 0; p < P; p++) {
      for (let j = 0; j < D / 2; j++) {
        const invFreq = Math.fround(1 / Math.pow(config.ropeTheta, (2 * j) / D));
        const angle = Math.fround(p * invFreq);
        cosT[p * D + j] = cosT[p * D + j + D / 2] = Math.cos(angle);
        sinT[p * D + j] = sinT[p * D + j + D / 2] = Math.sin(angle);
      }
    }
    const unsq = g.constInt([1]);
    cos = g.op('Unsqueeze', [g.op('Gather', [g.weight('rope.cos', [P, D], cosT), positions]), unsq]); // [B, 1, S, D]
    sin = g.op('Unsqueeze', [g.op('Gather', [g.weight('rope.sin', [P, D], sinT), positions]), unsq]);
  }
  const rope = (x: string): string => {
    const half = g.constInt([D / 2]);
    const x1 = g.op('Slice', [x, g.constInt([0]), half, g.constInt([3])]);
    const x2 = g.op('Slice', [x, half, g.constInt([D]), g.constInt([3])]);
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: { i: 3 } });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  const norm = (x: string, module: string): string => {
    const names = normTensorNames(config, module);
    const w = g.weight(names.weight, [H], tensor(weights, names.weight));
    if (arch.norm === 'layernorm') {
      const b = g.weight(names.bias!, [H], tensor(weights, names.bias!));
      return g.op('LayerNormalization', [x, w, b], { axis: { i: -1 }, epsilon: { f: config.normEps } });
    }
    const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSq, g.constFloat([config.normEps], [])])])]);
    return g.op('Mul', [g.op('Mul', [x, inv]), w]);
  };

  /** x [B, S, in] → [B, S, out] through the weight `name` (W stored per the architecture's layout). */
  const matmul = (x: string, name: string, inF: number, outF: number, stored: 'linear' | 'conv1d'): string => {
    const w = tensor(weights, name);
    const wT = stored === 'linear' ? transpose(w, outF, inF) : w; // [in, out]
    if (quant === 'q8') {
      const q = quantizeQ8(wT, inF, outF);
      opts.onDequantized?.(name, transpose(q.dequantized, inF, outF));
      const deq = g.op('DequantizeLinear', [g.weight(`${name}.q8`, [inF, outF], q.q), g.weight(`${name}.q8_scale`, [outF], q.scale), g.weight(`${name}.q8_zero`, [outF], new Int8Array(outF))], { axis: { i: 1 } });
      return g.op('MatMul', [x, deq]);
    }
    if (quant === 'q4') {
      const q = quantizeQ4(stored === 'linear' ? w : transpose(w, inF, outF), outF, inF);
      opts.onDequantized?.(name, q.dequantized);
      const inputs = [x, g.weight(`${name}.q4`, [outF, q.blocks, Q4_BLOCK / 2], q.packed), g.weight(`${name}.q4_scales`, [outF * q.blocks], q.scales), g.weight(`${name}.q4_zeros`, [q.zeroPoints.length], q.zeroPoints)];
      return g.op('MatMulNBits', inputs, { K: { i: inF }, N: { i: outF }, bits: { i: 4 }, block_size: { i: Q4_BLOCK } }, { domain: 'com.microsoft' });
    }
    return g.op('MatMul', [x, g.weight(name, [inF, outF], wT)]);
  };

  const linear = (x: string, block: string, role: LinearRole): string => {
    const desc = arch.linears.find((l) => l.role === role);
    if (!desc) throw new Error(`internal: ${config.modelType} has no "${role}" linear layer`);
    const { inFeatures, outFeatures } = linearShape(config, role);
    const prefix = `${block}.${desc.sub}`;
    const y = matmul(x, `${prefix}.weight`, inFeatures, outFeatures, arch.layout);
    if (!arch.hasBias(config, role)) return y;
    return g.op('Add', [y, g.weight(`${prefix}.bias`, [outFeatures], tensor(weights, `${prefix}.bias`))]);
  };

  /** [B, S, heads·D] → [B, heads, S, D]. */
  const splitHeads = (x: string, heads: number): string => g.op('Transpose', [g.op('Reshape', [x, g.constInt([0, 0, heads, D])])], { perm: { ints: [0, 2, 1, 3] } });

  // Embeddings.
  const embedName = arch.names.tokenEmbedding;
  const embed = g.weight(embedName, [V, H], tensor(weights, embedName));
  let x = g.op('Gather', [embed, ids], { axis: { i: 0 } });
  if (arch.names.positionEmbedding) {
    const name = arch.names.positionEmbedding;
    x = g.op('Add', [x, g.op('Gather', [g.weight(name, [config.maxPositions, H], tensor(weights, name)), positions], { axis: { i: 0 } })]);
  }

  const scale = g.constFloat([1 / Math.sqrt(D)], []);
  const repeat = NH / KVH;
  for (let i = 0; i < config.numLayers; i++) {
    const block = arch.names.block(i);
    // Attention.
    const h = norm(x, `${block}.${arch.names.norm1}`);
    let q: string;
    let k: string;
    let v: string;
    if (arch.qkv === 'fused') {
      const qkv = linear(h, block, 'qkv');
      const parts = [g.fresh('q'), g.fresh('k'), g.fresh('v')];
      g.op('Split', [qkv, g.constInt([NH * D, KVH * D, KVH * D])], { axis: { i: 2 } }, { outputs: parts });
      [q, k, v] = parts;
    } else {
      [q, k, v] = [linear(h, block, 'q'), linear(h, block, 'k'), linear(h, block, 'v')];
    }
    q = splitHeads(q, NH);
    k = splitHeads(k, KVH);
    v = splitHeads(v, KVH);
    if (arch.positions === 'rope') {
      q = rope(q);
      k = rope(k);
    }
    const keys = g.op('Concat', [pastName(i, 'key'), k], { axis: { i: 2 } }, { outputs: [presentName(i, 'key')] });
    const values = g.op('Concat', [pastName(i, 'value'), v], { axis: { i: 2 } }, { outputs: [presentName(i, 'value')] });
    const presentDims = ['batch_size', KVH, 'total_sequence_length', D];
    g.output(keys, keys, 'float32', presentDims);
    g.output(values, values, 'float32', presentDims);
    // Grouped-query attention: each key/value head serves `repeat` query heads.
    const expand = (t: string): string =>
      repeat === 1 ? t : g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [t, g.constInt([2])]), g.constInt([1, 1, repeat, 1, 1])]), g.constInt([0, NH, -1, D])]);
    const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [expand(keys)], { perm: { ints: [0, 1, 3, 2] } })]), scale]);
    const probs = g.op('Softmax', [g.op('Where', [allowed, scores, masked])], { axis: { i: -1 } });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, expand(values)])], { perm: { ints: [0, 2, 1, 3] } }), g.constInt([0, 0, NH * D])]);
    x = g.op('Add', [x, linear(context, block, 'o')]);

    // MLP.
    const m = norm(x, `${block}.${arch.names.norm2}`);
    let act: string;
    if (arch.mlp === 'gelu') {
      // gelu_new: 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))
      const u = linear(m, block, 'fc');
      const cube = g.op('Mul', [g.op('Mul', [u, u]), u]);
      const inner = g.op('Mul', [g.op('Add', [u, g.op('Mul', [cube, g.constFloat([0.044715], [])])]), g.constFloat([Math.sqrt(2 / Math.PI)], [])]);
      act = g.op('Mul', [g.op('Mul', [u, g.constFloat([0.5], [])]), g.op('Add', [g.op('Tanh', [inner]), g.constFloat([1], [])])]);
      x = g.op('Add', [x, linear(act, block, 'down')]);
    } else {
      const gate = linear(m, block, 'gate');
      act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(m, block, 'up')]);
      x = g.op('Add', [x, linear(act, block, 'down')]);
    }
  }

  const final = norm(x, arch.names.finalNorm);
  let logits: string;
  if (config.tieWordEmbeddings) {
    // The embedding matrix serves as lm_head through Gemm's transB, so it is stored once.
    const flat = g.op('Reshape', [final, g.constInt([-1, H])]);
    const shape = g.op('Concat', [g.op('Slice', [g.op('Shape', [final]), g.constInt([0]), g.constInt([2])]), g.constInt([V])], { axis: { i: 0 } });
    logits = g.op('Reshape', [g.op('Gemm', [flat, embed], { transB: { i: 1 } }), shape]);
  } else {
    logits = matmul(final, arch.names.lmHead, H, V, 'linear');
  }
  g.output(logits, 'logits', 'float32', ['batch_size', 'sequence_length', V]);
  return g;
}
