/**
 * One pass of the model on the GPU for training: forward over B×T tokens with causal and padding masks,
 * cross-entropy loss with ignore index −100, and backward through the whole frozen network to the LoRA
 * matrices only. The activations the backward needs are saved during the forward (see memory.ts for their
 * size); everything is recorded into one command buffer and submitted once.
 */
import type { GpuContext } from '../gpu/device';
import { encodeAttentionBackward, encodeAttentionForward } from '../kernels/attention';
import { encodeCopyColumns } from '../kernels/copy-columns';
import { encodeCrossEntropy } from '../kernels/cross-entropy';
import { CommandRecorder } from '../kernels/dispatch';
import { encodeEmbedding } from '../kernels/embedding';
import { encodeLinearBackwardInput, encodeLinearForward } from '../kernels/linear';
import { encodeLoraLinearBackward, encodeLoraLinearForward, type LoraAdapterTensors } from '../kernels/lora-linear';
import { encodeLoraWeightGrad } from '../kernels/lora-rank';
import { encodeGelu, encodeGeluBackward, encodeSwiglu, encodeSwigluBackward } from '../kernels/activations';
import { encodeLayerNorm, encodeLayerNormBackward, encodeRmsNorm, encodeRmsNormBackward } from '../kernels/norms';
import { encodeRope } from '../kernels/rope';
import { readTensor, type GpuTensor } from '../kernels/tensor';
import { TensorArena } from './arena';
import { layoutBatch, uploadBatch, type GpuBatch, type TokenBatch, type TrainBatch } from './batch';
import type { GpuLayer, GpuLinear, GpuModel, GpuNorm } from './gpu-model';
import { adapterTensors, type GpuLoraModule, type GpuLoraSet } from './lora-adapters';

export interface PassOptions {
  /** Multiplies every adapter's scaling: 1 uses the adapter as trained, 0 runs the base model. */
  loraScale?: number;
  /** Seed of this step's LoRA dropout masks; null or absent runs in eval mode (no dropout), as PEFT does. */
  dropoutSeed?: number | null;
  /** Add this pass's gradients to those already in the adapters (gradient accumulation). */
  accumulateGrads?: boolean;
}

export interface LossResult {
  loss: number;
  /** Tokens that counted toward the loss. */
  tokens: number;
  /** Bytes of GPU memory this pass allocated for activations and scratch. */
  activationBytes: number;
}

/** Saved activations of one transformer layer. */
interface LayerActs {
  hIn: GpuTensor;
  a: GpuTensor;
  stats1: GpuTensor;
  qkv: GpuTensor | null; // GPT-2's fused projection output
  q: GpuTensor;
  k: GpuTensor;
  v: GpuTensor;
  probs: GpuTensor;
  o: GpuTensor;
  hMid: GpuTensor;
  a2: GpuTensor;
  stats2: GpuTensor;
  f: GpuTensor; // GPT-2: c_fc output (pre-GELU); Llama: gate_proj output
  up: GpuTensor | null; // Llama: up_proj output
  act: GpuTensor; // GPT-2: GELU(f); Llama: silu(gate)·up
  hOut: GpuTensor;
}

class Pass {
  readonly arena: TensorArena;
  readonly rec: CommandRecorder;
  readonly xa = new Map<string, GpuTensor>();
  readonly c;
  readonly M: number;

  constructor(
    readonly gpu: GpuContext,
    readonly model: GpuModel,
    readonly lora: GpuLoraSet | null,
    readonly batch: GpuBatch,
    readonly opts: PassOptions,
  ) {
    this.arena = new TensorArena(gpu.device);
    this.rec = new CommandRecorder(gpu, 'training pass');
    this.c = model.config;
    this.M = batch.layout.M;
  }

  dims() {
    const c = this.c;
    const { B, T } = this.batch.layout;
    return {
      c, M: this.M, B, T, d: c.hiddenSize, qDim: c.numHeads * c.headDim, kvDim: c.numKvHeads * c.headDim, I: c.intermediateSize,
    };
  }

  t(shape: number[], name: string): GpuTensor {
    return this.arena.tensor(shape, name);
  }

  private onesColumn: GpuTensor | null = null;

  /** A column of M ones [M, 1], for bias gradients. */
  ones(): GpuTensor {
    if (!this.onesColumn) {
      this.onesColumn = this.t([this.M, 1], 'ones');
      this.gpu.device.queue.writeBuffer(this.onesColumn.buffer, 0, new Float32Array(this.M).fill(1));
    }
    return this.onesColumn;
  }

  private adapter(lin: GpuLinear): GpuLoraModule | null {
    const scale = this.opts.loraScale ?? 1;
    if (!this.lora || scale === 0) return null;
    return this.lora.get(lin.spec.path) ?? null;
  }

  private adapterTensors(mod: GpuLoraModule): LoraAdapterTensors {
    return adapterTensors(mod, this.opts.loraScale ?? 1, this.opts.dropoutSeed ?? null);
  }

  linear(lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate = false): void {
    const mod = this.adapter(lin);
    if (mod) {
      const xa = this.t([this.M, mod.r], `${lin.spec.path} xa`);
      this.xa.set(lin.spec.path, xa);
      encodeLoraLinearForward(this.rec, { x, w0: lin.weight, bias: mod.bias ?? lin.bias, lora: this.adapterTensors(mod), y, xa, accumulate });
    } else {
      encodeLinearForward(this.rec, { x, w0: lin.weight, bias: lin.bias, y, accumulate });
    }
  }

  linearBackward(lin: GpuLinear, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx = false): void {
    const mod = this.adapter(lin);
    const xa = this.xa.get(lin.spec.path);
    if (mod && xa) {
      const g = this.t([this.M, mod.r], `${lin.spec.path} dy·B`);
      encodeLoraLinearBackward(this.rec, {
        dy, x, xa, w0: lin.weight, lora: this.adapterTensors(mod), g, dx, dA: mod.dA, dB: mod.dB,
        accumulateGrads: this.opts.accumulateGrads, accumulateDx,
      });
      if (mod.dBias) {
        // d bias[n] = Σ_m dy[m, n]: the weight-gradient reduction against a column of ones.
        encodeLoraWeightGrad(this.rec, `${lin.spec.path} bias grad`, {
          left: dy, right: this.ones(), out: mod.dBias, scale: 1, accumulate: this.opts.accumulateGrads,
        });
      }
    } else if (dx) {
      encodeLinearBackwardInput(this.rec, { dy, w0: lin.weight, dx, accumulate: accumulateDx });
    }
  }

  norm(n: GpuNorm, x: GpuTensor, y: GpuTensor, stats: GpuTensor): void {
    if (this.c.architecture === 'gpt2') {
      encodeLayerNorm(this.rec, { x, weight: n.weight, bias: n.bias!, eps: this.c.normEps, y, stats });
    } else {
      encodeRmsNorm(this.rec, { x, weight: n.weight, eps: this.c.normEps, y, rstd: stats });
    }
  }

  normBackward(n: GpuNorm, dy: GpuTensor, x: GpuTensor, stats: GpuTensor, dx: GpuTensor, accumulate: boolean): void {
    if (this.c.architecture === 'gpt2') {
      encodeLayerNormBackward(this.rec, { dy, x, weight: n.weight, stats, dx, accumulate });
    } else {
      encodeRmsNormBackward(this.rec, { dy, x, weight: n.weight, rstd: stats, dx, accumulate });
    }
  }

  statsShape(): number[] {
    return this.c.architecture === 'gpt2' ? [this.M, 2] : [this.M];
  }

  copy(src: GpuTensor, dst: GpuTensor): void {
    this.rec.encoder.copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, this.M * src.shape[1] * 4);
  }

  lin(layer: GpuLayer, key: string): GpuLinear {
    const l = layer.linears.get(key);
    if (!l) throw new Error(`layer ${layer.index} has no module "${key}"`);
    return l;
  }

  embed(): GpuTensor {
    const h0 = this.t([this.M, this.c.hiddenSize], 'embeddings');
    encodeEmbedding(this.rec, {
      table: this.model.tokenEmbedding,
      ids: this.batch.ids,
      ...(this.model.positionEmbedding ? { positionTable: this.model.positionEmbedding, positions: this.batch.positions } : {}),
      out: h0,
    });
    return h0;
  }

  layerForward(layer: GpuLayer, hIn: GpuTensor): LayerActs {
    const { c, M, B, T, d, qDim, kvDim, I } = this.dims();
    const L = `layer ${layer.index}`;
    const a = this.t([M, d], `${L} norm1`);
    const stats1 = this.t(this.statsShape(), `${L} norm1 stats`);
    this.norm(layer.norm1, hIn, a, stats1);
    const q = this.t([M, qDim], `${L} q`);
    const k = this.t([M, kvDim], `${L} k`);
    const v = this.t([M, kvDim], `${L} v`);
    let qkv: GpuTensor | null = null;
    if (c.architecture === 'gpt2') {
      qkv = this.t([M, 3 * d], `${L} qkv`);
      this.linear(this.lin(layer, 'attn.c_attn'), a, qkv);
      encodeCopyColumns(this.rec, { src: qkv, srcOffset: 0, dst: q, dstOffset: 0, width: d });
      encodeCopyColumns(this.rec, { src: qkv, srcOffset: d, dst: k, dstOffset: 0, width: d });
      encodeCopyColumns(this.rec, { src: qkv, srcOffset: 2 * d, dst: v, dstOffset: 0, width: d });
    } else {
      this.linear(this.lin(layer, 'self_attn.q_proj'), a, q);
      this.linear(this.lin(layer, 'self_attn.k_proj'), a, k);
      this.linear(this.lin(layer, 'self_attn.v_proj'), a, v);
      const table = this.model.ropeTable!;
      encodeRope(this.rec, { x: q, heads: c.numHeads, headDim: c.headDim, positions: this.batch.positions, table });
      encodeRope(this.rec, { x: k, heads: c.numKvHeads, headDim: c.headDim, positions: this.batch.positions, table });
    }
    const o = this.t([M, qDim], `${L} attention out`);
    const probs = this.t([B, c.numHeads, T, T], `${L} attention probs`);
    encodeAttentionForward(this.rec, {
      q, k, v, batch: B, seqLen: T, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim), keyMask: this.batch.keyMask, out: o, probs,
    });
    const hMid = this.t([M, d], `${L} residual 1`);
    this.copy(hIn, hMid);
    this.linear(this.lin(layer, c.architecture === 'gpt2' ? 'attn.c_proj' : 'self_attn.o_proj'), o, hMid, true);
    const a2 = this.t([M, d], `${L} norm2`);
    const stats2 = this.t(this.statsShape(), `${L} norm2 stats`);
    this.norm(layer.norm2, hMid, a2, stats2);
    const f = this.t([M, I], `${L} mlp in`);
    const act = this.t([M, I], `${L} mlp act`);
    let up: GpuTensor | null = null;
    if (c.architecture === 'gpt2') {
      this.linear(this.lin(layer, 'mlp.c_fc'), a2, f);
      encodeGelu(this.rec, { x: f, y: act });
    } else {
      up = this.t([M, I], `${L} mlp up`);
      this.linear(this.lin(layer, 'mlp.gate_proj'), a2, f);
      this.linear(this.lin(layer, 'mlp.up_proj'), a2, up);
      encodeSwiglu(this.rec, { gate: f, up, h: act });
    }
    const hOut = this.t([M, d], `${L} residual 2`);
    this.copy(hMid, hOut);
    this.linear(this.lin(layer, c.architecture === 'gpt2' ? 'mlp.c_proj' : 'mlp.down_proj'), act, hOut, true);
    return { hIn, a, stats1, qkv, q, k, v, probs, o, hMid, a2, stats2, f, up, act, hOut };
  }

  /** dh holds the gradient of the layer's output on entry and of its input on exit (unless `first`). */
  layerBackward(layer: GpuLayer, s: LayerActs, dh: GpuTensor, first: boolean): void {
    const { c, M, B, T, d, qDim, kvDim, I } = this.dims();
    const L = `layer ${layer.index}`;
    // MLP
    const dAct = this.t([M, I], `${L} d mlp act`);
    const da2 = this.t([M, d], `${L} d norm2`);
    if (c.architecture === 'gpt2') {
      this.linearBackward(this.lin(layer, 'mlp.c_proj'), dh, s.act, dAct);
      const df = this.t([M, I], `${L} d mlp in`);
      encodeGeluBackward(this.rec, { dy: dAct, x: s.f, dx: df });
      this.linearBackward(this.lin(layer, 'mlp.c_fc'), df, s.a2, da2);
    } else {
      this.linearBackward(this.lin(layer, 'mlp.down_proj'), dh, s.act, dAct);
      const dGate = this.t([M, I], `${L} d gate`);
      const dUp = this.t([M, I], `${L} d up`);
      encodeSwigluBackward(this.rec, { dh: dAct, gate: s.f, up: s.up!, dGate, dUp });
      this.linearBackward(this.lin(layer, 'mlp.gate_proj'), dGate, s.a2, da2);
      this.linearBackward(this.lin(layer, 'mlp.up_proj'), dUp, s.a2, da2, true);
    }
    this.normBackward(layer.norm2, da2, s.hMid, s.stats2, dh, true); // dh is now d(hMid)
    // Attention
    const dO = this.t([M, qDim], `${L} d attention out`);
    this.linearBackward(this.lin(layer, c.architecture === 'gpt2' ? 'attn.c_proj' : 'self_attn.o_proj'), dh, s.o, dO);
    const dq = this.t([M, qDim], `${L} dq`);
    const dk = this.t([M, kvDim], `${L} dk`);
    const dv = this.t([M, kvDim], `${L} dv`);
    encodeAttentionBackward(this.rec, {
      dOut: dO, q: s.q, k: s.k, v: s.v, probs: s.probs, batch: B, seqLen: T, heads: c.numHeads, kvHeads: c.numKvHeads,
      headDim: c.headDim, scale: 1 / Math.sqrt(c.headDim), dq, dk, dv,
    });
    const da = first ? null : this.t([M, d], `${L} d norm1`);
    if (c.architecture === 'gpt2') {
      const dqkv = this.t([M, 3 * d], `${L} d qkv`);
      encodeCopyColumns(this.rec, { src: dq, srcOffset: 0, dst: dqkv, dstOffset: 0, width: d });
      encodeCopyColumns(this.rec, { src: dk, srcOffset: 0, dst: dqkv, dstOffset: d, width: d });
      encodeCopyColumns(this.rec, { src: dv, srcOffset: 0, dst: dqkv, dstOffset: 2 * d, width: d });
      this.linearBackward(this.lin(layer, 'attn.c_attn'), dqkv, s.a, da);
    } else {
      // The gradient through a rotation is the inverse rotation.
      const table = this.model.ropeTable!;
      encodeRope(this.rec, { x: dq, heads: c.numHeads, headDim: c.headDim, positions: this.batch.positions, table, inverse: true });
      encodeRope(this.rec, { x: dk, heads: c.numKvHeads, headDim: c.headDim, positions: this.batch.positions, table, inverse: true });
      this.linearBackward(this.lin(layer, 'self_attn.q_proj'), dq, s.a, da);
      this.linearBackward(this.lin(layer, 'self_attn.k_proj'), dk, s.a, da, true);
      this.linearBackward(this.lin(layer, 'self_attn.v_proj'), dv, s.a, da, true);
    }
    if (da) this.normBackward(layer.norm1, da, s.hIn, s.stats1, dh, true); // dh is now d(hIn)
  }
}

/** Embeddings, every layer and the final norm and lm_head: the logits, plus what the backward needs. */
function forwardAll(p: Pass): { h: GpuTensor; saved: LayerActs[]; stats: GpuTensor; logits: GpuTensor } {
  let h = p.embed();
  const saved: LayerActs[] = [];
  for (const layer of p.model.layers) {
    const acts = p.layerForward(layer, h);
    saved.push(acts);
    h = acts.hOut;
  }
  return { h, saved, ...finalLogits(p, h) };
}

function finalLogits(p: Pass, h: GpuTensor): { stats: GpuTensor; logits: GpuTensor } {
  const hf = p.t([p.M, p.c.hiddenSize], 'final norm');
  const stats = p.t(p.statsShape(), 'final norm stats');
  p.norm(p.model.finalNorm, h, hf, stats);
  const logits = p.t([p.M, p.c.vocabSize], 'logits');
  encodeLinearForward(p.rec, { x: hf, w0: p.model.lmHead, y: logits });
  return { stats, logits };
}

/** Logits [B·T, V] of a batch, for evaluation and parity checks. */
export async function forwardLogits(
  gpu: GpuContext,
  model: GpuModel,
  lora: GpuLoraSet | null,
  batch: TokenBatch,
  opts: PassOptions = {},
): Promise<Float32Array> {
  const gpuBatch = uploadBatch(gpu.device, layoutBatch(model.config, batch));
  const p = new Pass(gpu, model, lora, gpuBatch, { ...opts, dropoutSeed: null });
  try {
    const { logits } = forwardAll(p);
    p.rec.submit();
    const out = await readTensor(gpu.device, logits);
    gpu.assertHealthy();
    return out;
  } finally {
    p.arena.destroy();
    gpuBatch.destroy();
  }
}

/**
 * Forward, loss and backward for one batch. The LoRA gradients are left in (or, with accumulateGrads, added
 * to) each adapter's dA and dB; nothing else is trained.
 */
export async function lossAndGrads(
  gpu: GpuContext,
  model: GpuModel,
  lora: GpuLoraSet,
  batch: TrainBatch,
  opts: PassOptions = {},
): Promise<LossResult> {
  const layout = layoutBatch(model.config, batch);
  const gpuBatch = uploadBatch(gpu.device, layout);
  const p = new Pass(gpu, model, lora, gpuBatch, opts);
  try {
    const { h, saved, stats, logits } = forwardAll(p);
    const rowLoss = p.t([p.M], 'row loss');
    // The logits' gradient overwrites the logits, which nothing needs afterwards.
    const dLogits = logits;
    encodeCrossEntropy(p.rec, { logits, targets: gpuBatch.targets!, invCount: 1 / layout.counted, rowLoss, dLogits });
    const dhf = p.t([p.M, model.config.hiddenSize], 'd final norm');
    encodeLinearBackwardInput(p.rec, { dy: dLogits, w0: model.lmHead, dx: dhf });
    const dh = p.t([p.M, model.config.hiddenSize], 'd residual');
    p.normBackward(model.finalNorm, dhf, h, stats, dh, false);
    for (let i = model.layers.length - 1; i >= 0; i--) p.layerBackward(model.layers[i], saved[i], dh, i === 0);
    p.rec.submit();
    const rows = await readTensor(gpu.device, rowLoss);
    gpu.assertHealthy();
    let sum = 0;
    for (const v of rows) sum += v;
    return { loss: sum / layout.counted, tokens: layout.counted, activationBytes: p.arena.bytes };
  } finally {
    p.arena.destroy();
    gpuBatch.destroy();
  }
}

/** Mean loss of a batch without a backward pass (validation). */
export async function evalLoss(
  gpu: GpuContext,
  model: GpuModel,
  lora: GpuLoraSet | null,
  batch: TrainBatch,
  opts: PassOptions = {},
): Promise<{ loss: number; tokens: number }> {
  const layout = layoutBatch(model.config, batch);
  const gpuBatch = uploadBatch(gpu.device, layout);
  const p = new Pass(gpu, model, lora, gpuBatch, { ...opts, dropoutSeed: null });
  try {
    const { logits } = forwardAll(p);
    const rowLoss = p.t([p.M], 'row loss');
    encodeCrossEntropy(p.rec, { logits, targets: gpuBatch.targets!, invCount: 1 / layout.counted, rowLoss, dLogits: logits });
    p.rec.submit();
    const rows = await readTensor(gpu.device, rowLoss);
    gpu.assertHealthy();
    let sum = 0;
    for (const v of rows) sum += v;
    return { loss: sum / layout.counted, tokens: layout.counted };
  } finally {
    p.arena.destroy();
    gpuBatch.destroy();
  }
}
