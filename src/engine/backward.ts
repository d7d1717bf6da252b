/**
 * The training backward on the GPU: from the logits' gradient back through every block to the method's
 * parameters (their gradients accumulate in the method's own buffers) and, where a method needs it, to the input
 * embeddings. Frozen weights get no gradient. It mirrors forward.ts line for line, reading the same description
 * and calling the same hooks' backward halves.
 */
import { encodeActivationBackward, encodeSwigluBackward } from '../kernels/activations';
import { encodeCopyColumns } from '../kernels/copy-columns';
import { encodeRope } from '../kernels/rope';
import type { GpuTensor } from '../kernels/tensor';
import type { LinearRole } from '../model/architecture';
import type { SequenceAttention } from './attention-modes';
import { blockForward, mlpActivation, type BlockActs, type ForwardActs, type PassInput, type SublayerSaved } from './forward';
import { linearOf, type GpuLayer, type GpuNorm } from './gpu-model';
import type { Pass } from './pass';
import { sumPrefixRows } from './sequence-rows';

/** The gradient of a sublayer's output, through the method's transform if it had one. */
function throughSublayer(p: Pass, saved: SublayerSaved | undefined, dy: GpuTensor): GpuTensor {
  return saved ? saved.adapter.backward(p, saved.saved, dy) : dy;
}

/**
 * dh holds the gradient of the block's output on entry and of its input on exit. `needInput` false skips the
 * gradient to the block's input (the first block, when nothing before it trains).
 */
export function blockBackward(p: Pass, layer: GpuLayer, s: BlockActs, dh: GpuTensor, input: PassInput, attention: SequenceAttention, needInput: boolean): void {
  const c = p.model.config;
  const arch = p.model.arch;
  const { M, d, qDim, kvDim, I } = p.dims();
  const L = `layer ${layer.index}`;
  const linearBackward = (role: LinearRole, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx = false) =>
    p.linearBackward(linearOf(layer, role), s.linears[role] ?? null, dy, x, dx, accumulateDx);

  // MLP: hOut = hMid + down(act(f)). The norm's output and the activation are recomputed, with the same bits.
  const dMlp = throughSublayer(p, s.sublayers.mlp, dh);
  const dAct = p.tensor([M, I], `${L} d mlp act`);
  const act = p.tensor([M, I], `${L} mlp act (recomputed)`);
  mlpActivation(p, s.f, s.up, act);
  linearBackward('down', dMlp, act, dAct);
  p.free(act);
  const a2 = recomputeNorm(p, layer.norm2, s.hMid, `${L} norm2`);
  const da2 = p.tensor([M, d], `${L} d norm2`);
  if (arch.mlp === 'gelu') {
    const df = p.tensor([M, I], `${L} d mlp in`);
    encodeActivationBackward(p.rec, { fn: 'gelu_new', dy: dAct, x: s.f, dx: df });
    linearBackward('fc', df, a2, da2);
  } else {
    const dGate = p.tensor([M, I], `${L} d gate`);
    const dUp = p.tensor([M, I], `${L} d up`);
    encodeSwigluBackward(p.rec, { dh: dAct, gate: s.f, up: s.up!, dGate, dUp });
    linearBackward('gate', dGate, a2, da2);
    linearBackward('up', dUp, a2, da2, true);
  }
  p.free(a2);
  p.normBackward(layer.norm2, da2, s.hMid, s.stats2, dh, true); // dh is now d(hMid)

  // Attention: hMid = hIn + o_proj(attention(q, k, v)).
  const dAttn = throughSublayer(p, s.sublayers.attention, dh);
  const dO = p.tensor([M, qDim], `${L} d attention out`);
  linearBackward('o', dAttn, s.o, dO);
  const { dq, dk, dv } = attention.backward(p, layer.index, s.attention, dO);
  const a = recomputeNorm(p, layer.norm1, s.hIn, `${L} norm1`);
  const da = needInput ? p.tensor([M, d], `${L} d norm1`) : null;
  if (arch.positions === 'rope') {
    // The gradient through a rotation is the inverse rotation.
    const table = p.model.ropeTable!;
    encodeRope(p.rec, { x: dq, heads: c.numHeads, headDim: c.headDim, positions: input.positions, table, inverse: true });
    encodeRope(p.rec, { x: dk, heads: c.numKvHeads, headDim: c.headDim, positions: input.positions, table, inverse: true });
  }
  if (arch.qkv === 'fused') {
    const dqkv = p.tensor([M, qDim + 2 * kvDim], `${L} d qkv`);
    encodeCopyColumns(p.rec, { src: dq, srcOffset: 0, dst: dqkv, dstOffset: 0, width: qDim });
    encodeCopyColumns(p.rec, { src: dk, srcOffset: 0, dst: dqkv, dstOffset: qDim, width: kvDim });
    encodeCopyColumns(p.rec, { src: dv, srcOffset: 0, dst: dqkv, dstOffset: qDim + kvDim, width: kvDim });
    linearBackward('qkv', dqkv, a, da);
  } else {
    linearBackward('q', dq, a, da);
    linearBackward('k', dk, a, da, true);
    linearBackward('v', dv, a, da, true);
  }
  p.free(a);
  if (da) p.normBackward(layer.norm1, da, s.hIn, s.stats1, dh, true); // dh is now d(hIn)
}

/** A norm's output again from its input (the forward did not keep it). */
function recomputeNorm(p: Pass, n: GpuNorm, x: GpuTensor, name: string): GpuTensor {
  const y = p.tensor(x.shape, `${name} (recomputed)`);
  const stats = p.normStats(`${name} stats (recomputed)`);
  p.norm(n, x, y, stats);
  p.free(stats);
  return y;
}

/**
 * The backward of modelForward (kept with 'all' or 'checkpoints') from dhf, the gradient of lm_head's input
 * [rows, d] (lm-head-loss.ts). A checkpointed block runs its forward again first. Each block's tensors, and what
 * its backward took, go back to the pool as soon as its backward is recorded, so the backward holds one block's
 * gradients at a time.
 */
export function modelBackward(p: Pass, acts: ForwardActs, dhf: GpuTensor, input: PassInput, attention: SequenceAttention): void {
  const model = p.model;
  const d = model.config.hiddenSize;
  const dh = p.tensor([p.rows, d], 'd residual');
  p.normBackward(model.finalNorm, dhf, acts.hLast, acts.finalStats, dh, false);
  p.free(dhf);
  const virtual = input.virtualTokens > 0 ? p.hooks.virtualTokens : undefined;
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i];
    const mark = p.mark();
    const saved = acts.blocks[i] ?? blockForward(p, layer, acts.inputs[i], input, attention);
    blockBackward(p, layer, saved, dh, input, attention, i > 0 || virtual !== undefined);
    p.freeSince(mark);
    p.freeSince(acts.marks[i], [], acts.marks[i + 1]);
  }
  // dh is now the gradient of the embeddings; the virtual rows' share goes to the method.
  if (virtual) virtual.backward(p, sumPrefixRows(p, dh, input.sequences, virtual.count, 'd virtual tokens'));
  p.hooks.endBackward?.(p);
}
