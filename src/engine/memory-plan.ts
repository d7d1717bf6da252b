/**
 * The GPU memory of a training run, planned from config.json alone (before any weight is downloaded): the
 * weights in each format, the adapter with its gradient and AdamW's moments, the activations of one training
 * pass, and their peak — and whether that fits the device's buffer limits and a memory budget.
 *
 * The activations are not a formula but a replay: `passActivations` walks the training pass in the order the
 * engine takes and frees its tensors (forward.ts, backward.ts, lm-head-loss.ts, the LoRA hooks) and records the
 * most bytes alive at once. A test checks it against what ActivationPool measures on a real pass, option by
 * option; if the engine's order changes, that test says so. Where the plan does not know a method's own
 * tensors (prompt learning and bottleneck adapters' small encoders), it counts the base model's with the
 * method's extra positions, and says so (`exact: false`).
 */
import type { ModelConfig } from '../model/config';
import { architectureOf } from '../model/architectures/index';
import { linearModules } from '../model/weight-names';
import type { LinearRole, Sublayer } from '../model/architecture';
import { ADAPTER_BYTES_PER_PARAM } from '../trainer/gpu-memory';
import type { WeightFormat } from '../kernels/weight-format';
import { sizeClass } from './activation-pool';
import { plannedWeightMemory } from './weight-memory';
import { lossChunkRows } from './loss-chunks';

/** The memory budget the studio assumes when the user sets none: 2 GiB. */
export const DEFAULT_MEMORY_BUDGET = 2 * 2 ** 30;
/** A plan whose peak is above this share of the budget is "tight". */
export const TIGHT_SHARE = 0.85;

/** What a method adds to the pass, as the plan needs it. */
export interface PlanMethod {
  /** Trainable parameters (value, gradient and AdamW's two moments each: ADAPTER_BYTES_PER_PARAM). */
  trainableParams: number;
  /** LoRA's adapted linear layers: the rank per (layer, role) and whether its bias trains; DoRA's extra tensors. */
  lora?: { targets: readonly { layer: number; role: LinearRole; r: number; bias: boolean }[]; dora: boolean; dropout: boolean };
  /** IA³'s scaled linear layers (a scaled copy of the input or output per layer, see ia3/gpu.ts). */
  ia3?: { targets: readonly { layer: number; role: LinearRole; feedforward: boolean }[] };
  /** Bottleneck adapters: after which sublayers of which layers, and their width. */
  bottleneck?: { places: readonly { layer: number; sublayer: Sublayer }[]; size: number };
  /** Positions the method puts in front of every sequence (prompt tuning, P-tuning). */
  virtualTokens?: number;
  /** Keys and values per layer in front of every sequence's own (prefix tuning). */
  prefixLength?: number;
  /**
   * False where the method's own tensors are not all replayed: a prompt encoder's (P-tuning's, prefix tuning's
   * projection), of n virtual-token rows, taken once per pass. The plan is then low by those few kilobytes.
   */
  exact: boolean;
}

export interface PlanInput {
  config: ModelConfig;
  batch: number;
  /** Tokens per sequence (the batch is padded to it). */
  seqLen: number;
  format: WeightFormat;
  gradientCheckpointing: boolean;
  method: PlanMethod;
  /** Rows per chunk of the loss (PassOptions.lossChunkRows); absent: the engine's default for these limits. */
  lossChunkRows?: number;
  /** The device's limits; absent: WebGPU's defaults. */
  limits?: BufferLimits;
}

export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** WebGPU's default limits: what every adapter offers at least. */
export const WEBGPU_DEFAULT_LIMITS: BufferLimits = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };

/** A buffer the run needs whole: what it holds, its shape and its bytes, and its name in English. */
export interface LargestBuffer {
  kind: 'embedding' | 'logits-chunk' | 'mlp-activation' | 'lm-head';
  shape: [number, number];
  /** The weight format it is held in (the embedding table is always f32). */
  format: WeightFormat;
  bytes: number;
  name: string;
}

export interface MemoryPlan {
  /** The frozen weights in the chosen format. */
  weights: number;
  /** The adapter: values, gradients and AdamW's moments. */
  adapter: number;
  /** The most activation bytes one training pass holds at once, in whole pool buffers (size classes). */
  activations: number;
  /** The same peak in tensor bytes (what ActivationPool.peakBytes reports). */
  activationTensorBytes: number;
  /** weights + adapter + activations. */
  peak: number;
  /** The largest single buffer, and what it is. */
  largestBuffer: LargestBuffer;
  /** Rows per chunk of the loss's logits. */
  lossChunkRows: number;
  exact: boolean;
}

/** Replays allocations and frees, keeping the peak (in tensor bytes and in pool buffers). */
class Replay {
  private live = 0;
  private liveBuffers = 0;
  peak = 0;
  peakBuffers = 0;
  private readonly tensors: { bytes: number; seq: number; wholePass: boolean; alive: boolean }[] = [];

  /** Takes a tensor of `floats` f32 values; returns its handle. */
  take(floats: number, wholePass = false): number {
    const bytes = 4 * floats;
    this.tensors.push({ bytes, seq: this.tensors.length, wholePass, alive: true });
    this.live += bytes;
    this.liveBuffers += sizeClass(bytes);
    this.peak = Math.max(this.peak, this.live);
    this.peakBuffers = Math.max(this.peakBuffers, this.liveBuffers);
    return this.tensors.length - 1;
  }

  mark(): number {
    return this.tensors.length;
  }

  free(...handles: number[]): void {
    for (const h of handles) {
      const t = this.tensors[h];
      if (!t.alive) continue;
      t.alive = false;
      this.live -= t.bytes;
      this.liveBuffers -= sizeClass(t.bytes);
    }
  }

  freeSince(from: number, keep: readonly number[] = [], to = Infinity): void {
    for (let i = from; i < Math.min(to, this.tensors.length); i++) {
      if (!this.tensors[i].wholePass && !keep.includes(i)) this.free(i);
    }
  }
}

/** The shapes of the pass (M rows = B·S, S = T plus virtual tokens). */
function dims(c: ModelConfig, B: number, T: number, m: PlanMethod) {
  const S = T + (m.virtualTokens ?? 0);
  const M = B * S;
  return { B, S, M, d: c.hiddenSize, qD: c.numHeads * c.headDim, kvD: c.numKvHeads * c.headDim, I: c.intermediateSize, H: c.numHeads, V: c.vocabSize };
}

/** The activations of one training pass, replayed in the engine's order. */
export function passActivations(input: PlanInput): { tensorBytes: number; bufferBytes: number; chunkRows: number } {
  const c = input.config;
  const arch = architectureOf(c);
  const m = input.method;
  const { B, S, M, d, qD, kvD, I, H, V } = dims(c, input.batch, input.seqLen, m);
  const s = arch.norm === 'layernorm' ? 2 : 1;
  const P = m.prefixLength ?? 0;
  const r = new Replay();
  const limits = input.limits ?? WEBGPU_DEFAULT_LIMITS;
  const chunkRows = lossChunkRows(M, V, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize), input.lossChunkRows);
  let ones: number | null = null;
  const onesColumn = () => {
    ones ??= r.take(M, true);
  };
  const lora = (layer: number, role: LinearRole) => m.lora?.targets.find((t) => t.layer === layer && t.role === role);
  const ia3 = (layer: number, role: LinearRole) => m.ia3?.targets.find((t) => t.layer === layer && t.role === role);
  const specs = new Map(linearModules(c).map((l) => [`${l.layer}:${l.role}`, l]));
  const widths = (layer: number, role: LinearRole): { N: number; K: number } => {
    const spec = specs.get(`${layer}:${role}`)!;
    return { N: spec.outFeatures, K: spec.inFeatures };
  };
  // The method's linear hook (methods/lora/gpu.ts, methods/ia3/gpu.ts).
  const linearForward = (layer: number, role: LinearRole) => {
    const t = lora(layer, role);
    const { N, K } = widths(layer, role);
    if (t) {
      if (m.lora!.dora) {
        r.take(N);
        r.take(N);
        r.take(M * t.r);
        r.take(M * N);
        if (m.lora!.dropout) r.take(M * K);
      } else {
        r.take(M * t.r);
      }
    }
    const x = ia3(layer, role);
    if (x) r.take(M * (x.feedforward ? K : N)); // x ⊙ l, or z = x·W0ᵀ + b
  };
  const linearBackward = (layer: number, role: LinearRole, hasDx: boolean) => {
    const t = lora(layer, role);
    const { N, K } = widths(layer, role);
    if (t) {
      if (m.lora!.dora) {
        r.take(M * N);
        onesColumn();
        r.take(M * N);
        r.take(M * t.r);
        if (m.lora!.dropout && hasDx) {
          r.take(M * N);
          r.take(M * K);
        }
      } else {
        r.take(M * t.r);
      }
      if (t.bias) onesColumn();
    }
    const x = ia3(layer, role);
    if (x?.feedforward) {
      r.take(M * K); // dy·W0
      r.take(M * K); // x ⊙ g
      onesColumn();
    } else if (x) {
      r.take(M * N); // dy ⊙ z
      onesColumn();
      if (hasDx) r.take(M * N); // dz
    }
  };
  // The sublayer hook (methods/bottleneck/gpu.ts, on shared/gpu-mlp.ts): the sublayer's output, the adapter's
  // two layers and activation, and y = out + adapter(out); in the backward, d(out) and the MLP's gradients.
  const adapted = (layer: number, sublayer: Sublayer) => m.bottleneck?.places.some((p) => p.layer === layer && p.sublayer === sublayer) ?? false;
  const residual = (layer: number, sublayer: Sublayer, project: () => void): number => {
    const hOut = r.take(M * d);
    if (!adapted(layer, sublayer)) {
      project();
      return hOut;
    }
    const b = m.bottleneck!.size;
    r.take(M * d);
    project();
    r.take(M * b);
    r.take(M * b);
    r.take(M * d);
    r.take(M * d);
    return hOut;
  };
  const throughSublayer = (layer: number, sublayer: Sublayer) => {
    if (!adapted(layer, sublayer)) return;
    const b = m.bottleneck!.size;
    r.take(M * d);
    onesColumn();
    r.take(M * b);
    r.take(M * b);
  };
  const prefixTensors = () => {
    if (P > 0) {
      r.take(P * kvD);
      r.take(P * kvD);
      r.take(B * (P + S) * kvD);
      r.take(B * (P + S) * kvD);
    }
  };

  // forward.ts, blockForward.
  const blockForward = (layer: number): number => {
    const a = r.take(M * d);
    r.take(M * s);
    r.take(M * qD);
    r.take(M * kvD);
    r.take(M * kvD);
    if (arch.qkv === 'fused') {
      r.take(M * (qD + 2 * kvD));
      linearForward(layer, 'qkv');
    } else {
      linearForward(layer, 'q');
      linearForward(layer, 'k');
      linearForward(layer, 'v');
    }
    r.free(a);
    r.take(M * qD); // o
    prefixTensors();
    r.take(B * H * S); // the softmax statistics
    residual(layer, 'attention', () => linearForward(layer, 'o')); // hMid
    const a2 = r.take(M * d);
    r.take(M * s);
    r.take(M * I); // f
    const act = r.take(M * I);
    if (arch.mlp === 'gelu') {
      linearForward(layer, 'fc');
    } else {
      r.take(M * I); // up
      linearForward(layer, 'gate');
      linearForward(layer, 'up');
    }
    r.free(a2);
    const hOut = residual(layer, 'mlp', () => linearForward(layer, 'down'));
    r.free(act);
    return hOut;
  };
  // backward.ts, blockBackward.
  const recomputeNorm = (): number => {
    const y = r.take(M * d);
    r.free(r.take(M * s));
    return y;
  };
  const blockBackward = (layer: number, needInput: boolean) => {
    throughSublayer(layer, 'mlp');
    r.take(M * I); // d act
    const act = r.take(M * I);
    linearBackward(layer, 'down', true);
    r.free(act);
    const a2 = recomputeNorm();
    r.take(M * d); // d a2
    if (arch.mlp === 'gelu') {
      r.take(M * I);
      linearBackward(layer, 'fc', true);
    } else {
      r.take(M * I);
      r.take(M * I);
      linearBackward(layer, 'gate', true);
      linearBackward(layer, 'up', true);
    }
    r.free(a2);
    throughSublayer(layer, 'attention');
    r.take(M * qD); // dO
    linearBackward(layer, 'o', true);
    r.take(M * qD); // dq
    r.take(B * (P + S) * kvD);
    r.take(B * (P + S) * kvD);
    if (P > 0) {
      for (let i = 0; i < 2; i++) {
        r.take(B * P * kvD);
        r.take(B);
        r.take(P * kvD);
      }
      r.take(M * kvD);
      r.take(M * kvD);
    }
    const a = recomputeNorm();
    if (needInput) r.take(M * d);
    if (arch.qkv === 'fused') {
      r.take(M * (qD + 2 * kvD));
      linearBackward(layer, 'qkv', needInput);
    } else {
      linearBackward(layer, 'q', needInput);
      linearBackward(layer, 'k', needInput);
      linearBackward(layer, 'v', needInput);
    }
    r.free(a);
  };

  // training-pass.ts: the forward (forward.ts, modelForward).
  const L = c.numLayers;
  const virtual = (m.virtualTokens ?? 0) > 0;
  let h: number;
  if (arch.names.positionEmbedding) {
    const h0 = r.take(M * d);
    const pos = r.take(M * d);
    h = r.take(M * d);
    r.free(h0, pos);
  } else {
    h = r.take(M * d);
  }
  const marks: number[] = [];
  for (let l = 0; l < L; l++) {
    marks.push(r.mark());
    const hOut = blockForward(l);
    if (input.gradientCheckpointing) r.freeSince(marks[l], [hOut]);
    h = hOut;
  }
  marks.push(r.mark());
  const hFinal = r.take(M * d);
  r.take(M * s);
  // The loss (lm-head-loss.ts).
  r.take(M); // row loss
  const dhf = r.take(M * d);
  const chunk = r.mark();
  r.take(chunkRows * V);
  if (chunkRows < M) {
    r.take(chunkRows * d);
    r.take(chunkRows);
    r.take(chunkRows);
    r.take(chunkRows * d);
  }
  r.freeSince(chunk);
  r.free(hFinal);
  // The backward (backward.ts, modelBackward).
  r.take(M * d); // d residual
  r.free(dhf);
  for (let l = L - 1; l >= 0; l--) {
    const mark = r.mark();
    if (input.gradientCheckpointing) blockForward(l);
    blockBackward(l, l > 0 || virtual);
    r.freeSince(mark);
    r.freeSince(marks[l], [], marks[l + 1]);
  }
  return { tensorBytes: r.peak, bufferBytes: r.peakBuffers, chunkRows };
}

/** The whole plan of one configuration. */
export function planMemory(input: PlanInput): MemoryPlan {
  const c = input.config;
  const weights = plannedWeightMemory(c, input.format);
  const acts = passActivations(input);
  const adapter = ADAPTER_BYTES_PER_PARAM * input.method.trainableParams;
  const { M, V, I, d } = dims(c, input.batch, input.seqLen, input.method);
  const buffer = (kind: LargestBuffer['kind'], shape: [number, number], format: WeightFormat, bytes: number, what: string): LargestBuffer => ({
    kind, shape, format, bytes, name: `${what} [${shape[0]}, ${shape[1]}]${kind === 'embedding' || kind === 'lm-head' ? ` (${format})` : ''}`,
  });
  const candidates = [
    buffer('embedding', [c.vocabSize, d], 'f32', 4 * c.vocabSize * d, 'the token embedding table'),
    buffer('logits-chunk', [acts.chunkRows, V], 'f32', 4 * acts.chunkRows * V, "a chunk of the loss's logits"),
    buffer('mlp-activation', [M, I], 'f32', 4 * M * I, 'an MLP activation'),
  ];
  if (!c.tieWordEmbeddings) candidates.push(buffer('lm-head', [V, d], input.format, lmHeadBytes(c, input.format), 'lm_head'));
  const largestBuffer = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    weights: weights.total,
    adapter,
    activations: acts.bufferBytes,
    activationTensorBytes: acts.tensorBytes,
    peak: weights.total + adapter + acts.bufferBytes,
    largestBuffer,
    lossChunkRows: acts.chunkRows,
    exact: input.method.exact,
  };
}

function lmHeadBytes(c: ModelConfig, format: WeightFormat): number {
  const untied = plannedWeightMemory({ ...c, tieWordEmbeddings: false }, format).linear;
  const tied = plannedWeightMemory({ ...c, tieWordEmbeddings: true }, format).linear;
  return untied - tied;
}
