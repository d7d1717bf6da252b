/**
 * The transformer forward on the GPU, written once for training, evaluation and generation. It reads the family's
 * description (norm, positions, q/k/v fusion, MLP kind) and calls the method hooks at their four places
 * (method-hooks.ts); attention is whatever mode the caller passes (attention-modes.ts).
 *
 * What it keeps for a backward is the caller's choice (`KeepActivations`): every block's activations, only each
 * block's input (gradient checkpointing: the backward runs the block again), or nothing (evaluation and
 * generation, which hand each block's tensors back to the pool as soon as the next block has its input). Even
 * when it keeps everything, a block does not keep the outputs of its two norms or of its MLP activation: the
 * backward recomputes them (one cheap kernel each, the same bits) rather than hold 2·d + I floats per token.
 */
import { encodeCopyColumns } from '../kernels/copy-columns';
import { encodeEmbedding } from '../kernels/embedding';
import type { GpuIndexTensor } from '../kernels/index-tensor';
import { encodeLinearForward } from '../kernels/linear';
import { encodeActivation, encodeSwiglu } from '../kernels/activations';
import { encodeElementwise } from '../kernels/plain-ops';
import { encodeRope } from '../kernels/rope';
import { elementCount, type GpuTensor } from '../kernels/tensor';
import type { LinearRole, Sublayer } from '../model/architecture';
import type { AttentionMode } from './attention-modes';
import { linearOf, type GpuLayer } from './gpu-model';
import type { SublayerAdapter } from './method-hooks';
import type { LinearSaved, Pass } from './pass';
import { copySequenceRows } from './sequence-rows';

/** The rows of a pass: token ids and positions [rows], in sequences of `seqLen`. */
export interface PassInput {
  ids: GpuIndexTensor;
  positions: GpuIndexTensor;
  sequences: number;
  seqLen: number;
  /** The method's virtual tokens at the start of each sequence (0 after a generation's first step). */
  virtualTokens: number;
}

/** What a sublayer's output went through before joining the residual stream. */
export interface SublayerSaved {
  adapter: SublayerAdapter;
  saved: unknown;
}

/** The activations of one block that its backward needs. */
export interface BlockActs {
  hIn: GpuTensor; // [M, d]
  stats1: GpuTensor; // norm1's row statistics (its output, a = norm1(hIn), is recomputed)
  /** The fused q|k|v output (qkv families). */
  qkv: GpuTensor | null;
  q: GpuTensor; // [M, H·hd], rotated
  k: GpuTensor; // [M, KV·hd], rotated
  v: GpuTensor;
  attention: unknown; // the attention mode's saved state
  o: GpuTensor; // attention output [M, H·hd]
  hMid: GpuTensor; // after the attention sublayer
  stats2: GpuTensor; // norm2's (a2 = norm2(hMid) is recomputed)
  f: GpuTensor; // the MLP's first projection: fc (GELU) or gate (SwiGLU)
  up: GpuTensor | null; // SwiGLU's up projection (the activation gelu(f) or silu(gate)·up is recomputed)
  hOut: GpuTensor;
  linears: Partial<Record<LinearRole, LinearSaved>>;
  sublayers: Partial<Record<Sublayer, SublayerSaved>>;
}

/**
 * What the forward keeps for a backward: 'all' of every block's activations, each block's input only
 * ('checkpoints'), or nothing ('none').
 */
export type KeepActivations = 'all' | 'checkpoints' | 'none';

export interface ForwardActs {
  h0: GpuTensor;
  /** Each block's activations; null where only its input was kept (the backward recomputes the block). */
  blocks: (BlockActs | null)[];
  /** Each block's input. */
  inputs: GpuTensor[];
  /** Pool marks around the blocks: block i's tensors were taken between marks[i] and marks[i + 1]. */
  marks: number[];
  /** The input of the final norm, its statistics and output [rows, d] (lm_head's input). */
  hLast: GpuTensor;
  finalStats: GpuTensor;
  hFinal: GpuTensor;
}

/** Token embeddings (plus learned positions), with the method's virtual tokens in the first rows of each sequence. */
export function embed(p: Pass, input: PassInput): GpuTensor {
  const model = p.model;
  const d = model.config.hiddenSize;
  const h0 = p.tensor([p.rows, d], 'embeddings');
  const virtual = input.virtualTokens > 0 ? p.hooks.virtualTokens : undefined;
  if (input.virtualTokens > 0 && virtual?.count !== input.virtualTokens) {
    throw new Error(`internal: the pass has ${input.virtualTokens} virtual tokens per sequence, the method ${virtual?.count ?? 'none'}`);
  }
  const positions = model.positionEmbedding ? { positionTable: model.positionEmbedding, positions: input.positions } : {};
  if (!virtual) {
    encodeEmbedding(p.rec, { table: model.tokenEmbedding, ids: input.ids, ...positions, out: h0 });
    return h0;
  }
  // The virtual rows take the method's embeddings before the learned positions are added to every row.
  encodeEmbedding(p.rec, { table: model.tokenEmbedding, ids: input.ids, out: h0 });
  copySequenceRows(p, virtual.forward(p), 0, 0, h0, input.seqLen, 0, virtual.count, input.sequences);
  if (model.positionEmbedding) {
    const pos = p.tensor([p.rows, d], 'position embeddings');
    encodeEmbedding(p.rec, { table: model.positionEmbedding, ids: input.positions, out: pos });
    const withPositions = p.tensor([p.rows, d], 'embeddings with positions');
    encodeElementwise(p.rec, { a: h0, b: pos, out: withPositions });
    p.free(h0, pos);
    return withPositions;
  }
  return h0;
}

/**
 * `out` joins the residual stream: hOut = hIn + out. Without a sublayer hook, the sublayer's last projection adds
 * straight into a copy of hIn (`project(hOut, true)`); with one, its output goes through the method first.
 */
function residual(
  p: Pass,
  layer: number,
  sublayer: Sublayer,
  hIn: GpuTensor,
  name: string,
  project: (y: GpuTensor, accumulate: boolean) => void,
): { hOut: GpuTensor; saved: SublayerSaved | null } {
  const hOut = p.tensor(hIn.shape, name);
  const adapter = p.hooks.sublayerOutput?.(layer, sublayer) ?? null;
  if (!adapter) {
    p.rec.encoder.copyBufferToBuffer(hIn.buffer, 0, hOut.buffer, 0, elementCount(hIn.shape) * 4);
    project(hOut, true);
    return { hOut, saved: null };
  }
  const out = p.tensor(hIn.shape, `${name} (sublayer output)`);
  project(out, false);
  const { y, saved } = adapter.forward(p, out);
  encodeElementwise(p.rec, { a: hIn, b: y, out: hOut });
  return { hOut, saved: { adapter, saved } };
}

export function blockForward(p: Pass, layer: GpuLayer, hIn: GpuTensor, input: PassInput, attention: AttentionMode): BlockActs {
  const c = p.model.config;
  const arch = p.model.arch;
  const { M, d, qDim, kvDim, I } = p.dims();
  const L = `layer ${layer.index}`;
  const linears: BlockActs['linears'] = {};
  const sublayers: BlockActs['sublayers'] = {};
  const linear = (role: LinearRole, x: GpuTensor, y: GpuTensor, accumulate = false) => {
    linears[role] = p.linear(linearOf(layer, role), x, y, accumulate);
  };

  const a = p.tensor([M, d], `${L} norm1`);
  const stats1 = p.normStats(`${L} norm1 stats`);
  p.norm(layer.norm1, hIn, a, stats1);
  const q = p.tensor([M, qDim], `${L} q`);
  const k = p.tensor([M, kvDim], `${L} k`);
  const v = p.tensor([M, kvDim], `${L} v`);
  let qkv: GpuTensor | null = null;
  if (arch.qkv === 'fused') {
    qkv = p.tensor([M, qDim + 2 * kvDim], `${L} qkv`);
    linear('qkv', a, qkv);
    encodeCopyColumns(p.rec, { src: qkv, srcOffset: 0, dst: q, dstOffset: 0, width: qDim });
    encodeCopyColumns(p.rec, { src: qkv, srcOffset: qDim, dst: k, dstOffset: 0, width: kvDim });
    encodeCopyColumns(p.rec, { src: qkv, srcOffset: qDim + kvDim, dst: v, dstOffset: 0, width: kvDim });
  } else {
    linear('q', a, q);
    linear('k', a, k);
    linear('v', a, v);
  }
  if (arch.positions === 'rope') {
    const table = p.model.ropeTable!;
    encodeRope(p.rec, { x: q, heads: c.numHeads, headDim: c.headDim, positions: input.positions, table });
    encodeRope(p.rec, { x: k, heads: c.numKvHeads, headDim: c.headDim, positions: input.positions, table });
  }
  p.free(a);
  const o = p.tensor([M, qDim], `${L} attention out`);
  const attnSaved = attention.attend(p, layer.index, q, k, v, o);
  const mid = residual(p, layer.index, 'attention', hIn, `${L} residual 1`, (y, acc) => linear('o', o, y, acc));
  if (mid.saved) sublayers.attention = mid.saved;

  const a2 = p.tensor([M, d], `${L} norm2`);
  const stats2 = p.normStats(`${L} norm2 stats`);
  p.norm(layer.norm2, mid.hOut, a2, stats2);
  const f = p.tensor([M, I], `${L} mlp in`);
  const act = p.tensor([M, I], `${L} mlp act`);
  let up: GpuTensor | null = null;
  if (arch.mlp === 'gelu') {
    linear('fc', a2, f);
  } else {
    up = p.tensor([M, I], `${L} mlp up`);
    linear('gate', a2, f);
    linear('up', a2, up);
  }
  mlpActivation(p, f, up, act);
  p.free(a2);
  const out = residual(p, layer.index, 'mlp', mid.hOut, `${L} residual 2`, (y, acc) => linear('down', act, y, acc));
  p.free(act);
  if (out.saved) sublayers.mlp = out.saved;
  return {
    hIn, stats1, qkv, q, k, v, attention: attnSaved, o, hMid: mid.hOut, stats2, f, up, hOut: out.hOut, linears, sublayers,
  };
}

/** The MLP's activation, gelu(f) or silu(gate)·up, into `act` (the forward's, and the backward's recomputation). */
export function mlpActivation(p: Pass, f: GpuTensor, up: GpuTensor | null, act: GpuTensor): void {
  if (p.model.arch.mlp === 'gelu') encodeActivation(p.rec, { fn: 'gelu_new', x: f, y: act });
  else encodeSwiglu(p.rec, { gate: f, up: up!, h: act });
}

/**
 * Embeddings, every block and the final norm: lm_head's input [rows, d], and what a backward needs (`keep`). The
 * logits are the caller's: the whole [rows, V] (modelLogits), or a chunk at a time with the loss (lm-head-loss.ts).
 */
export function modelForward(p: Pass, input: PassInput, attention: AttentionMode, keep: KeepActivations): ForwardActs {
  const model = p.model;
  p.begin();
  const start = p.mark();
  const h0 = embed(p, input);
  const blocks: (BlockActs | null)[] = [];
  const inputs: GpuTensor[] = [];
  const marks: number[] = [];
  let h = h0;
  for (const layer of model.layers) {
    marks.push(p.mark());
    inputs.push(h);
    const acts = blockForward(p, layer, h, input, attention);
    // 'checkpoints' keeps the block's input (taken before it) and output; 'none' only the output.
    if (keep === 'checkpoints') p.freeSince(marks[marks.length - 1], [acts.hOut]);
    if (keep === 'none') p.freeSince(start, [acts.hOut]);
    blocks.push(keep === 'all' ? acts : null);
    h = acts.hOut;
  }
  marks.push(p.mark());
  const hFinal = p.tensor([p.rows, model.config.hiddenSize], 'final norm');
  const finalStats = p.normStats('final norm stats');
  p.norm(model.finalNorm, h, hFinal, finalStats);
  if (keep === 'none') p.freeSince(start, [hFinal]);
  return { h0, blocks, inputs, marks, hLast: h, finalStats, hFinal };
}

/** The logits [rows, V] of lm_head's input [rows, d] (of every row: evaluation; of one row: a generation step). */
export function modelLogits(p: Pass, hFinal: GpuTensor): GpuTensor {
  const logits = p.tensor([hFinal.shape[0], p.model.config.vocabSize], 'logits');
  encodeLinearForward(p.rec, { x: hFinal, w0: p.model.lmHead, y: logits });
  return logits;
}
