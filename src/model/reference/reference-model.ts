/**
 * Float64 CPU reference of the supported causal LMs, following transformers' modeling code (GPT2LMHeadModel,
 * LlamaForCausalLM / Qwen2ForCausalLM) through the family's description (../architecture.ts), with an optional
 * PEFT method attached at its hooks (method-hooks.ts), the causal LM loss, exact gradients of that loss with
 * respect to the method's parameters (a reverse-mode tape), and greedy generation.
 *
 * It is the ground truth the GPU engine is tested against. Its ops are the float64 kernel references
 * (tape-ops.ts); it shares no code with the GPU path beyond the architecture description and the dropout mask.
 *
 * Batches: B rows of T tokens (right-padded); attentionMask 1 = real, 0 = padding. Padding keys are masked out
 * of attention in addition to the causal mask. Row m = b·S + t of every activation matrix is position t of
 * sequence b, where S = T plus the method's virtual tokens (which come first). Positions start after an
 * attention prefix: the first row of a sequence sits at position P (prefix length), as transformers counts the
 * cache. A query that sees no key at all gets a zero attention output.
 */
import { architectureOf } from '../architectures/index';
import type { ArchitectureDescription, LinearRole } from '../architecture';
import type { ModelConfig } from '../config';
import { linearModules, normTensorNames, storedShape, type HostWeights } from '../weight-names';
import type { FrozenLinear, ReferenceHooks, ReferenceMethod } from './method-hooks';
import { add, prependRows, sliceCols, Tape, type Var } from './tape';
import { activation, attention, crossEntropy, frozenLinear, layerNorm, linearOrientation, rmsNorm, rope, swiglu } from './tape-ops';

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

const NO_HOOKS: ReferenceHooks = { parameters: new Map() };

/** One forward's context: the tape, the model, the attached method, and the batch's layout. */
class Graph {
  readonly tape = new Tape();
  readonly arch: ArchitectureDescription;
  readonly hooks: ReferenceHooks;
  private readonly linears = new Map<string, FrozenLinear>();

  constructor(
    readonly config: ModelConfig,
    readonly weights: HostWeights,
    method: ReferenceMethod | undefined,
    trainable: boolean,
  ) {
    this.arch = architectureOf(config);
    this.hooks = method ? method.attach(this.tape, { trainable }) : NO_HOOKS;
    // Checks every module's shapes up front (also the ones no method touches).
    for (const spec of linearModules(config)) {
      const w = tensor(weights, `${spec.path}.weight`, storedShape(spec.layout, spec.outFeatures, spec.inFeatures));
      const bias = spec.hasBias ? tensor(weights, `${spec.path}.bias`, [spec.outFeatures]) : null;
      const weight = linearOrientation(w, spec.layout, spec.outFeatures, spec.inFeatures);
      this.linears.set(`${spec.layer}/${spec.role}`, {
        spec, weight, bias, forward: (x) => frozenLinear(this.tape, x, weight, spec.outFeatures, bias),
      });
    }
  }

  linear(layer: number, role: LinearRole, x: Var): Var {
    const lin = this.linears.get(`${layer}/${role}`);
    if (lin === undefined) throw new Error(`internal: layer ${layer} has no ${role} projection`);
    return this.hooks.linear ? this.hooks.linear(lin, x) : lin.forward(x);
  }

  norm(module: string, x: Var): Var {
    const c = this.config;
    const names = normTensorNames(c, module);
    const w = tensor(this.weights, names.weight, [c.hiddenSize]);
    if (names.bias === null) return rmsNorm(this.tape, x, w, c.normEps);
    return layerNorm(this.tape, x, w, tensor(this.weights, names.bias, [c.hiddenSize]), c.normEps);
  }

  /** Sublayer output `out` joins the residual stream h (through the method's sublayer hook, if any). */
  residual(h: Var, layer: number, sublayer: 'attention' | 'mlp', out: Var): Var {
    return add(this.tape, h, this.hooks.sublayerOutput ? this.hooks.sublayerOutput(layer, sublayer, out) : out);
  }
}

/** The batch as the layers see it: S positions per sequence (virtual tokens first), their positions and key mask. */
interface Layout {
  B: number;
  T: number;
  /** Virtual tokens per sequence. */
  n: number;
  /** Attention prefix length. */
  P: number;
  S: number;
  /** [B·S] position of each row. */
  positions: Float64Array;
  /** [B·(P + S)], or null when every key is seen. */
  keyMask: Float64Array | null;
}

function layoutOf(g: Graph, batch: ReferenceBatch, B: number, T: number): Layout {
  const n = g.hooks.virtualTokens?.count ?? 0;
  const P = g.hooks.attentionPrefix?.length ?? 0;
  const S = n + T;
  if (P + S > g.config.maxPositions) {
    throw new RangeError(`sequence length ${P + S} (prefix ${P}, virtual tokens ${n}, tokens ${T}) exceeds the model's ${g.config.maxPositions} positions`);
  }
  const positions = new Float64Array(B * S);
  for (let b = 0; b < B; b++) for (let t = 0; t < S; t++) positions[b * S + t] = P + t;
  let keyMask: Float64Array | null = null;
  if (batch.attentionMask) {
    keyMask = new Float64Array(B * (P + S)).fill(1);
    batch.attentionMask.forEach((row, b) => row.forEach((v, t) => (keyMask![b * (P + S) + P + n + t] = v)));
  }
  return { B, T, n, P, S, positions, keyMask };
}

/** Token embeddings, the virtual tokens in front, plus learned positions where the family has them: [B·S, d]. */
function embed(g: Graph, ids: number[][], L: Layout): Var {
  const c = g.config;
  const d = c.hiddenSize;
  const table = tensor(g.weights, g.arch.names.tokenEmbedding, [c.vocabSize, d]);
  const tokens = new Float64Array(L.B * L.T * d);
  ids.forEach((row, b) => row.forEach((id, t) => tokens.set(table.subarray(id * d, (id + 1) * d), (b * L.T + t) * d)));
  let h = g.tape.constant(tokens, L.B * L.T, d);
  if (g.hooks.virtualTokens) h = prependRows(g.tape, g.hooks.virtualTokens.embeddings(), h, L.B);
  const posName = g.arch.names.positionEmbedding;
  if (posName !== null) {
    const pos = tensor(g.weights, posName, [c.maxPositions, d]);
    const rows = new Float64Array(L.B * L.S * d);
    L.positions.forEach((p, m) => rows.set(pos.subarray(p * d, (p + 1) * d), m * d));
    h = add(g.tape, h, g.tape.constant(rows, L.B * L.S, d));
  }
  return h;
}

function block(g: Graph, i: number, h: Var, L: Layout): Var {
  const c = g.config;
  const t = g.tape;
  const { names } = g.arch;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const a = g.norm(`${names.block(i)}.${names.norm1}`, h);
  let q: Var;
  let k: Var;
  let v: Var;
  if (g.arch.qkv === 'fused') {
    const qkv = g.linear(i, 'qkv', a);
    q = sliceCols(t, qkv, 0, qDim);
    k = sliceCols(t, qkv, qDim, kvDim);
    v = sliceCols(t, qkv, qDim + kvDim, kvDim);
  } else {
    q = g.linear(i, 'q', a);
    k = g.linear(i, 'k', a);
    v = g.linear(i, 'v', a);
  }
  if (g.arch.positions === 'rope') {
    q = rope(t, q, L.positions, c.numHeads, c.headDim, c.ropeTheta);
    k = rope(t, k, L.positions, c.numKvHeads, c.headDim, c.ropeTheta);
  }
  if (g.hooks.attentionPrefix) {
    const prefix = g.hooks.attentionPrefix.keysValues(i);
    k = prependRows(t, prefix.k, k, L.B);
    v = prependRows(t, prefix.v, v, L.B);
  }
  const o = attention(t, q, k, v, {
    batch: L.B, seqLen: L.S, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, keyMask: L.keyMask, prefixLength: L.P,
  });
  h = g.residual(h, i, 'attention', g.linear(i, 'o', o));
  const a2 = g.norm(`${names.block(i)}.${names.norm2}`, h);
  const act = g.arch.mlp === 'gelu' ? activation(t, 'gelu_new', g.linear(i, 'fc', a2)) : swiglu(t, g.linear(i, 'gate', a2), g.linear(i, 'up', a2));
  return g.residual(h, i, 'mlp', g.linear(i, 'down', act));
}

function logitsVar(g: Graph, batch: ReferenceBatch, L: Layout): Var {
  const c = g.config;
  let h = embed(g, batch.inputIds, L);
  for (let i = 0; i < c.numLayers; i++) h = block(g, i, h, L);
  h = g.norm(g.arch.names.finalNorm, h);
  const head = tensor(g.weights, c.tieWordEmbeddings ? g.arch.names.tokenEmbedding : g.arch.names.lmHead, [c.vocabSize, c.hiddenSize]);
  return frozenLinear(g.tape, h, head, c.vocabSize, null);
}

/** Targets [B·S]: position t predicts labels[t + 1]; virtual tokens carry label −100, so the last one predicts the first token. */
function shiftedTargets(labels: number[][], L: Layout): Int32Array {
  const targets = new Int32Array(L.B * L.S).fill(-100);
  labels.forEach((row, b) => {
    for (let t = 0; t < L.S - 1; t++) {
      const next = t + 1 - L.n;
      if (next >= 0) targets[b * L.S + t] = row[next];
    }
  });
  return targets;
}

/** Logits [B, S, V] (row-major) of a batch, S = T plus the method's virtual tokens. */
export function referenceForward(config: ModelConfig, weights: HostWeights, batch: ReferenceBatch, method?: ReferenceMethod): Float64Array {
  const { B, T } = checkBatch(config, batch);
  const g = new Graph(config, weights, method, false);
  return logitsVar(g, batch, layoutOf(g, batch, B, T)).data;
}

/** Causal LM loss (mean cross-entropy over labels ≠ −100, logits at t predict labels[t + 1]). */
export function referenceLoss(config: ModelConfig, weights: HostWeights, batch: ReferenceLabeledBatch, method?: ReferenceMethod): number {
  const { B, T } = checkBatch(config, batch, batch.labels);
  const g = new Graph(config, weights, method, false);
  const L = layoutOf(g, batch, B, T);
  return crossEntropy(g.tape, logitsVar(g, batch, L), shiftedTargets(batch.labels, L)).data[0];
}

/** The loss and its exact gradients with respect to every parameter of the method, by parameter name. */
export function referenceLossAndGrads(
  config: ModelConfig,
  weights: HostWeights,
  batch: ReferenceLabeledBatch,
  method: ReferenceMethod,
): { loss: number; grads: Map<string, Float64Array> } {
  const { B, T } = checkBatch(config, batch, batch.labels);
  const g = new Graph(config, weights, method, true);
  const L = layoutOf(g, batch, B, T);
  const loss = crossEntropy(g.tape, logitsVar(g, batch, L), shiftedTargets(batch.labels, L));
  g.tape.backward(loss);
  const grads = new Map<string, Float64Array>();
  for (const [name, v] of g.hooks.parameters) grads.set(name, v.grad ?? new Float64Array(v.data.length));
  return { loss: loss.data[0], grads };
}

/**
 * Greedy decoding without a cache: each step runs the full forward on prompt + generated tokens and takes the
 * argmax of the last position (lowest id on ties). Returns the generated tokens only; when an eos id is produced
 * it is included (as transformers' generate does) and generation stops.
 */
export function referenceGreedyGenerate(
  config: ModelConfig,
  weights: HostWeights,
  promptIds: number[],
  maxNewTokens: number,
  eosTokenIds: number[],
  method?: ReferenceMethod,
): number[] {
  if (promptIds.length === 0) throw new RangeError('referenceGreedyGenerate: the prompt must hold at least one token');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new RangeError(`referenceGreedyGenerate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  const V = config.vocabSize;
  const seq = [...promptIds];
  const out: number[] = [];
  for (let step = 0; step < maxNewTokens; step++) {
    const logits = referenceForward(config, weights, { inputIds: [seq] }, method);
    const o = logits.length - V;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[o + v] > logits[o + best]) best = v;
    out.push(best);
    seq.push(best);
    if (eosTokenIds.includes(best)) break;
  }
  return out;
}

