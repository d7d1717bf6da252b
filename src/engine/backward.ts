/**
 * The training backward on the GPU: from the logits' gradient back through every block to the method's
 * parameters (their gradients accumulate in the method's own buffers) and, where a method needs it, to the input
 * embeddings. Frozen weights get no gradient. It mirrors forward.ts line for line, reading the same description
 * and calling the same hooks' backward halves.
 */
import { encodeActivationBackward, encodeSwigluBackward } from '../kernels/activations';
import { encodeCopyColumns } from '../kernels/copy-columns';
import { encodeLinearBackwardInput } from '../kernels/linear';
import { encodeRope } from '../kernels/rope';
import type { GpuTensor } from '../kernels/tensor';
import type { LinearRole } from '../model/architecture';
import type { SequenceAttention } from './attention-modes';
import type { BlockActs, ForwardActs, PassInput, SublayerSaved } from './forward';
import { linearOf, type GpuLayer } from './gpu-model';
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

  // MLP: hOut = hMid + down(act(f)).
  const dMlp = throughSublayer(p, s.sublayers.mlp, dh);
  const dAct = p.tensor([M, I], `${L} d mlp act`);
  const da2 = p.tensor([M, d], `${L} d norm2`);
  linearBackward('down', dMlp, s.act, dAct);
  if (arch.mlp === 'gelu') {
    const df = p.tensor([M, I], `${L} d mlp in`);
    encodeActivationBackward(p.rec, { fn: 'gelu_new', dy: dAct, x: s.f, dx: df });
    linearBackward('fc', df, s.a2, da2);
  } else {
    const dGate = p.tensor([M, I], `${L} d gate`);
    const dUp = p.tensor([M, I], `${L} d up`);
    encodeSwigluBackward(p.rec, { dh: dAct, gate: s.f, up: s.up!, dGate, dUp });
    linearBackward('gate', dGate, s.a2, da2);
    linearBackward('up', dUp, s.a2, da2, true);
  }
  p.normBackward(layer.norm2, da2, s.hMid, s.stats2, dh, true); // dh is now d(hMid)

  // Attention: hMid = hIn + o_proj(attention(q, k, v)).
  const dAttn = throughSublayer(p, s.sublayers.attention, dh);
  const dO = p.tensor([M, qDim], `${L} d attention out`);
  linearBackward('o', dAttn, s.o, dO);
  const { dq, dk, dv } = attention.backward(p, layer.index, s.attention, dO);
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
    linearBackward('qkv', dqkv, s.a, da);
  } else {
    linearBackward('q', dq, s.a, da);
    linearBackward('k', dk, s.a, da, true);
    linearBackward('v', dv, s.a, da, true);
  }
  if (da) p.normBackward(layer.norm1, da, s.hIn, s.stats1, dh, true); // dh is now d(hIn)
}

/** The backward of modelForward from dLogits [rows, V] (which it may overwrite). */
export function modelBackward(p: Pass, acts: ForwardActs, dLogits: GpuTensor, input: PassInput, attention: SequenceAttention): void {
  const model = p.model;
  const d = model.config.hiddenSize;
  const dhf = p.tensor([p.rows, d], 'd final norm');
  encodeLinearBackwardInput(p.rec, { dy: dLogits, w0: model.lmHead, dx: dhf });
  const dh = p.tensor([p.rows, d], 'd residual');
  p.normBackward(model.finalNorm, dhf, acts.hLast, acts.finalStats, dh, false);
  const virtual = input.virtualTokens > 0 ? p.hooks.virtualTokens : undefined;
  for (let i = model.layers.length - 1; i >= 0; i--) {
    blockBackward(p, model.layers[i], acts.blocks[i], dh, input, attention, i > 0 || virtual !== undefined);
  }
  // dh is now the gradient of the embeddings; the virtual rows' share goes to the method.
  if (virtual) virtual.backward(p, sumPrefixRows(p, dh, input.sequences, virtual.count, 'd virtual tokens'));
  p.hooks.endBackward?.(p);
}
