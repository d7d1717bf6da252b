/**
 * Float64 CPU reference of the supported causal LMs, following transformers' modeling code:
 * GPT2LMHeadModel (architecture 'gpt2') and LlamaForCausalLM / Qwen2ForCausalLM (architecture 'llama'),
 * with optional LoRA adapters (PEFT semantics) on any linear layer, the causal LM loss, exact gradients of
 * that loss with respect to every LoRA A and B (a reverse-mode tape, `tape.ts`), and greedy generation.
 *
 * It is the ground truth the GPU engine is tested against, so it is written plainly and shares no code with
 * the GPU path. Only the LoRA dropout mask (`dropoutFactor`) is shared, since it defines the mask.
 *
 * Batches: B rows of T tokens (right-padded); attentionMask 1 = real, 0 = padding. Padding keys are masked
 * out of attention in addition to the causal mask; positions are 0..T−1 in every row. A query that sees no
 * key at all (only possible with left padding) gets a zero attention output. Row m = b·T + t of every
 * activation matrix is token t of row b; LoRA dropout uses the same flat index m.
 */
import type { ModelConfig } from '../config';
import type { HostWeights, LinearModuleSpec } from '../weight-names';
import { checkLora, loraDropoutFactors, type ReferenceLora } from './lora';
import { causalAttention, geluNew, layerNorm, rmsNorm, rope, shiftedCrossEntropy, silu } from './nn-ops';
import { add, frozenLinear, matmulNT, mul, mulConst, scale, sliceCols, Tape, type Var } from './tape';

export type { ReferenceLora, ReferenceLoraModule } from './lora';
export { makeRandomLora } from './lora';
export { makeRandomHostWeights } from './random-weights';

export interface ReferenceBatch {
  /** [B][T] token ids, rows of equal length (right-padded). */
  inputIds: number[][];
  /** [B][T], 1 = real token, 0 = padding; absent means all real. */
  attentionMask?: number[][];
}

export interface ReferenceLabeledBatch extends ReferenceBatch {
  /** [B][T]; labels[b][t + 1] is the target of position t; −100 is ignored. */
  labels: number[][];
}

export interface LoraGrads {
  /** dLoss/dA [r, in]. */
  dA: Float64Array;
  /** dLoss/dB [out, r]. */
  dB: Float64Array;
}

function checkGrid(what: string, grid: number[][], B: number, T: number, ok: (v: number) => boolean, allowed: string): void {
  if (!Array.isArray(grid) || grid.length !== B) throw new RangeError(`${what} must have ${B} rows (one per inputIds row), got ${grid?.length}`);
  grid.forEach((row, b) => {
    if (row.length !== T) throw new RangeError(`${what} row ${b} has ${row.length} entries, expected T = ${T}`);
    row.forEach((v, t) => {
      if (!ok(v)) throw new RangeError(`${what}[${b}][${t}] = ${v}; expected ${allowed}`);
    });
  });
}

function checkBatch(config: ModelConfig, batch: ReferenceBatch, labels?: number[][]): { B: number; T: number } {
  const ids = batch.inputIds;
  if (!Array.isArray(ids) || ids.length === 0) throw new RangeError('inputIds must have at least one row');
  const B = ids.length;
  const T = ids[0].length;
  if (T === 0) throw new RangeError('inputIds rows must not be empty');
  const V = config.vocabSize;
  checkGrid('inputIds', ids, B, T, (v) => Number.isInteger(v) && v >= 0 && v < V, `a token id in [0, ${V})`);
  if (config.architecture === 'gpt2' && T > config.maxPositions) {
    throw new RangeError(`sequence length ${T} exceeds GPT-2's ${config.maxPositions} position embeddings (n_positions)`);
  }
  if (batch.attentionMask !== undefined) checkGrid('attentionMask', batch.attentionMask, B, T, (v) => v === 0 || v === 1, '0 or 1');
  if (labels !== undefined) {
    checkGrid('labels', labels, B, T, (v) => v === -100 || (Number.isInteger(v) && v >= 0 && v < V), `-100 or a token id in [0, ${V})`);
  }
  return { B, T };
}

/** A stored tensor, checked against the shape the model needs. */
function tensor(weights: HostWeights, name: string, shape: number[]): Float32Array {
  const w = weights.get(name);
  if (w === undefined) throw new RangeError(`weight "${name}" is missing`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i]) || w.data.length !== n) {
    throw new RangeError(`weight "${name}" has shape [${w.shape.join(', ')}] (${w.data.length} values), expected [${shape.join(', ')}]`);
  }
  return w.data;
}

interface LoraVars {
  a: Var;
  b: Var;
}

interface Graph {
  tape: Tape;
  config: ModelConfig;
  weights: HostWeights;
  specs: Map<string, LinearModuleSpec>;
  lora: ReferenceLora;
  loraVars: Map<string, LoraVars>;
}

function makeGraph(config: ModelConfig, weights: HostWeights, lora: ReferenceLora | undefined, wantGrads: boolean): Graph {
  const tape = new Tape();
  const l = lora ?? new Map();
  const specs = checkLora(config, l);
  const loraVars = new Map<string, LoraVars>();
  for (const [path, m] of l) {
    const spec = specs.get(path)!;
    const a = Float64Array.from(m.a);
    const b = Float64Array.from(m.b);
    loraVars.set(path, {
      a: wantGrads ? tape.param(a, m.r, spec.inFeatures) : tape.constant(a, m.r, spec.inFeatures),
      b: wantGrads ? tape.param(b, spec.outFeatures, m.r) : tape.constant(b, spec.outFeatures, m.r),
    });
  }
  // Checks every module's shapes up front (also the ones no LoRA touches).
  for (const spec of specs.values()) {
    const wShape = spec.layout === 'conv1d' ? [spec.inFeatures, spec.outFeatures] : [spec.outFeatures, spec.inFeatures];
    tensor(weights, `${spec.path}.weight`, wShape);
    if (spec.hasBias) tensor(weights, `${spec.path}.bias`, [spec.outFeatures]);
  }
  return { tape, config, weights, specs, lora: l, loraVars };
}

/** The linear layer at `path`, with its LoRA adapter when there is one. */
function linear(g: Graph, path: string, x: Var): Var {
  const spec = g.specs.get(path);
  if (spec === undefined) throw new Error(`internal: no linear layer "${path}"`);
  const w = g.weights.get(`${path}.weight`)!.data;
  const bias = spec.hasBias ? g.weights.get(`${path}.bias`)!.data : null;
  const base = frozenLinear(g.tape, x, w, spec.layout, spec.outFeatures, bias);
  const l = g.lora.get(path);
  if (l === undefined) return base;
  const { a, b } = g.loraVars.get(path)!;
  const xd = l.dropoutP > 0 ? mulConst(g.tape, x, loraDropoutFactors(x.rows, x.cols, l.dropoutP, l.seed)) : x;
  const xa = matmulNT(g.tape, xd, a); // [M, r]
  const delta = matmulNT(g.tape, xa, b); // [M, out]
  return add(g.tape, base, scale(g.tape, delta, l.scale));
}

/** Token embeddings (plus GPT-2's learned positions) as a constant [B·T, d]. */
function embed(g: Graph, ids: number[][], T: number): Var {
  const c = g.config;
  const d = c.hiddenSize;
  const gpt2 = c.architecture === 'gpt2';
  const table = tensor(g.weights, gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight', [c.vocabSize, d]);
  const pos = gpt2 ? tensor(g.weights, 'transformer.wpe.weight', [c.maxPositions, d]) : null;
  const h = new Float64Array(ids.length * T * d);
  ids.forEach((row, b) => {
    row.forEach((id, t) => {
      const o = (b * T + t) * d;
      for (let i = 0; i < d; i++) h[o + i] = table[id * d + i] + (pos === null ? 0 : pos[t * d + i]);
    });
  });
  return g.tape.constant(h, ids.length * T, d);
}

function lmHead(g: Graph, h: Var): Var {
  const c = g.config;
  const name = c.tieWordEmbeddings ? (c.architecture === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight') : 'lm_head.weight';
  return frozenLinear(g.tape, h, tensor(g.weights, name, [c.vocabSize, c.hiddenSize]), 'linear', c.vocabSize, null);
}

function gpt2Logits(g: Graph, batch: ReferenceBatch, B: number, T: number): Var {
  const c = g.config;
  const d = c.hiddenSize;
  const t = g.tape;
  const att = { B, T, numHeads: c.numHeads, numKvHeads: c.numHeads, headDim: c.headDim, keyMask: batch.attentionMask ?? null };
  let h = embed(g, batch.inputIds, T);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer.h.${i}`;
    const a = layerNorm(t, h, tensor(g.weights, `${p}.ln_1.weight`, [d]), tensor(g.weights, `${p}.ln_1.bias`, [d]), c.normEps);
    const qkv = linear(g, `${p}.attn.c_attn`, a);
    const o = causalAttention(t, sliceCols(t, qkv, 0, d), sliceCols(t, qkv, d, d), sliceCols(t, qkv, 2 * d, d), att);
    h = add(t, h, linear(g, `${p}.attn.c_proj`, o));
    const m = layerNorm(t, h, tensor(g.weights, `${p}.ln_2.weight`, [d]), tensor(g.weights, `${p}.ln_2.bias`, [d]), c.normEps);
    h = add(t, h, linear(g, `${p}.mlp.c_proj`, geluNew(t, linear(g, `${p}.mlp.c_fc`, m))));
  }
  h = layerNorm(t, h, tensor(g.weights, 'transformer.ln_f.weight', [d]), tensor(g.weights, 'transformer.ln_f.bias', [d]), c.normEps);
  return lmHead(g, h);
}

function llamaLogits(g: Graph, batch: ReferenceBatch, B: number, T: number): Var {
  const c = g.config;
  const d = c.hiddenSize;
  const t = g.tape;
  const att = { B, T, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, keyMask: batch.attentionMask ?? null };
  let h = embed(g, batch.inputIds, T);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const a = rmsNorm(t, h, tensor(g.weights, `${p}.input_layernorm.weight`, [d]), c.normEps);
    const q = rope(t, linear(g, `${p}.self_attn.q_proj`, a), T, c.numHeads, c.headDim, c.ropeTheta);
    const k = rope(t, linear(g, `${p}.self_attn.k_proj`, a), T, c.numKvHeads, c.headDim, c.ropeTheta);
    const v = linear(g, `${p}.self_attn.v_proj`, a);
    h = add(t, h, linear(g, `${p}.self_attn.o_proj`, causalAttention(t, q, k, v, att)));
    const m = rmsNorm(t, h, tensor(g.weights, `${p}.post_attention_layernorm.weight`, [d]), c.normEps);
    const gated = mul(t, silu(t, linear(g, `${p}.mlp.gate_proj`, m)), linear(g, `${p}.mlp.up_proj`, m));
    h = add(t, h, linear(g, `${p}.mlp.down_proj`, gated));
  }
  h = rmsNorm(t, h, tensor(g.weights, 'model.norm.weight', [d]), c.normEps);
  return lmHead(g, h);
}

function logitsVar(g: Graph, batch: ReferenceBatch, B: number, T: number): Var {
  return g.config.architecture === 'gpt2' ? gpt2Logits(g, batch, B, T) : llamaLogits(g, batch, B, T);
}

/** Logits [B, T, V] (row-major) of a batch, with optional LoRA adapters. */
export function referenceForward(config: ModelConfig, weights: HostWeights, batch: ReferenceBatch, lora?: ReferenceLora): Float64Array {
  const { B, T } = checkBatch(config, batch);
  const g = makeGraph(config, weights, lora, false);
  return logitsVar(g, batch, B, T).data;
}

/** Causal LM loss (mean cross-entropy over labels ≠ −100, logits at t predict labels[t + 1]). */
export function referenceLoss(config: ModelConfig, weights: HostWeights, batch: ReferenceLabeledBatch, lora?: ReferenceLora): number {
  const { B, T } = checkBatch(config, batch, batch.labels);
  const g = makeGraph(config, weights, lora, false);
  return shiftedCrossEntropy(g.tape, logitsVar(g, batch, B, T), B, T, batch.labels).data[0];
}

/** The loss and its exact gradients with respect to every adapter's A and B, by module path. */
export function referenceLossAndLoraGrads(
  config: ModelConfig,
  weights: HostWeights,
  batch: ReferenceLabeledBatch,
  lora: ReferenceLora,
): { loss: number; grads: Map<string, LoraGrads> } {
  const { B, T } = checkBatch(config, batch, batch.labels);
  const g = makeGraph(config, weights, lora, true);
  const loss = shiftedCrossEntropy(g.tape, logitsVar(g, batch, B, T), B, T, batch.labels);
  g.tape.backward(loss);
  const grads = new Map<string, LoraGrads>();
  for (const [path, { a, b }] of g.loraVars) {
    grads.set(path, { dA: a.grad ?? new Float64Array(a.data.length), dB: b.grad ?? new Float64Array(b.data.length) });
  }
  return { loss: loss.data[0], grads };
}

/**
 * Greedy decoding without a cache: each step runs the full forward on prompt + generated tokens and takes
 * the argmax of the last position (lowest id on ties). Returns the generated tokens only; when an eos id is
 * produced it is included (as transformers' generate does) and generation stops.
 */
export function referenceGreedyGenerate(
  config: ModelConfig,
  weights: HostWeights,
  promptIds: number[],
  maxNewTokens: number,
  eosTokenIds: number[],
  lora?: ReferenceLora,
): number[] {
  if (promptIds.length === 0) throw new RangeError('referenceGreedyGenerate: the prompt must hold at least one token');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new RangeError(`referenceGreedyGenerate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  const V = config.vocabSize;
  const seq = [...promptIds];
  const out: number[] = [];
  for (let step = 0; step < maxNewTokens; step++) {
    const logits = referenceForward(config, weights, { inputIds: [seq] }, lora);
    const o = (seq.length - 1) * V;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[o + v] > logits[o + best]) best = v;
    out.push(best);
    seq.push(best);
    if (eosTokenIds.includes(best)) break;
  }
  return out;
}
