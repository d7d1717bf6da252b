/**
 * One pass of the model on the GPU: the command recorder its dispatches go into, the activation pool its tensors
 * come from, the method hooks it runs with, and the few operations the layer code needs that depend on the
 * architecture's description (norm kind) or on the method (adapted linear layers). Training passes and generation
 * steps are both Passes; they differ only in their attention (attention.ts).
 */
import type { GpuContext } from '../gpu/device';
import { CommandRecorder } from '../kernels/dispatch';
import { encodeLinearBackwardInput, encodeLinearForward } from '../kernels/linear';
import { encodeLayerNorm, encodeLayerNormBackward, encodeRmsNorm, encodeRmsNormBackward } from '../kernels/norms';
import type { GpuTensor } from '../kernels/tensor';
import type { ActivationPool, TensorOptions } from './activation-pool';
import type { GpuLinear, GpuModel, GpuNorm } from './gpu-model';
import type { AdaptedLinear, MethodHooks, PassContext } from './method-hooks';

export interface PassOptions {
  /** Multiplies what the adapter adds: 1 (default) uses it as trained, 0 runs the base model (no hook runs). */
  adapterScale?: number;
  /** Seed of this step's dropout masks; null or absent runs in eval mode (no dropout), as PEFT does. */
  dropoutSeed?: number | null;
  /** Add this pass's gradients to those already in the adapter (gradient accumulation). */
  accumulateGrads?: boolean;
  /** Keep only each block's input in the forward and run the block again in the backward (transformers' name). */
  gradientCheckpointing?: boolean;
  /** Rows per chunk of the loss's logits (lm-head-loss.ts); absent: as many as fit LOGITS_CHUNK_BYTES. */
  lossChunkRows?: number;
  /**
   * The pool the pass takes its activations from. A trainer or a generation keeps one across its passes, so
   * buffers (and bind groups) are reused; without one, the pass uses a pool of its own and frees it after.
   */
  pool?: ActivationPool;
}

/** What a linear layer's forward leaves for its backward: the method's saved state, or nothing for a plain layer. */
export type LinearSaved = { adapted: AdaptedLinear; saved: unknown } | null;

const NO_HOOKS: MethodHooks = {};

export class Pass implements PassContext {
  readonly rec: CommandRecorder;
  readonly hooks: MethodHooks;
  readonly scale: number;
  readonly dropoutSeed: number | null;
  readonly accumulateGrads: boolean;
  private onesColumn: GpuTensor | null = null;
  private begun = false;

  constructor(
    readonly gpu: GpuContext,
    readonly model: GpuModel,
    adapter: MethodHooks | null,
    /** Rows of the pass's activation matrices. */
    readonly rows: number,
    readonly pool: ActivationPool,
    opts: PassOptions,
    label: string,
  ) {
    this.scale = opts.adapterScale ?? 1;
    this.hooks = adapter && this.scale !== 0 ? adapter : NO_HOOKS;
    this.dropoutSeed = opts.dropoutSeed ?? null;
    this.accumulateGrads = opts.accumulateGrads ?? false;
    this.rec = new CommandRecorder(gpu, label);
  }

  /** Runs the method's once-per-pass work (MethodHooks.beginPass), the first time it is called in this pass. */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.hooks.beginPass?.(this);
  }

  /** The widths the layer code works with: rows M, hidden d, q and k/v widths, MLP width I. */
  dims(): { M: number; d: number; qDim: number; kvDim: number; I: number } {
    const c = this.model.config;
    return { M: this.rows, d: c.hiddenSize, qDim: c.numHeads * c.headDim, kvDim: c.numKvHeads * c.headDim, I: c.intermediateSize };
  }

  tensor(shape: readonly number[], name: string, opts?: TensorOptions): GpuTensor {
    return this.pool.tensor(shape, name, opts);
  }

  /** A mark of the pass's tensors: `freeSince(mark)` hands back those taken after it (ActivationPool.freeSince). */
  mark(): number {
    return this.pool.mark();
  }

  freeSince(mark: number, keep: readonly GpuTensor[] = [], to?: number): void {
    this.pool.freeSince(mark, keep, to);
  }

  /** Hands these tensors back to the pool before the pass ends; later tensors of the pass may reuse their buffers. */
  free(...tensors: GpuTensor[]): void {
    this.pool.free(...tensors);
  }

  ones(): GpuTensor {
    if (!this.onesColumn) {
      this.onesColumn = this.tensor([this.rows, 1], 'ones', { hostWritten: true, wholePass: true });
      this.gpu.device.queue.writeBuffer(this.onesColumn.buffer, 0, new Float32Array(this.rows).fill(1));
    }
    return this.onesColumn;
  }

  /** y = x·W0ᵀ + b, through the method's version of the layer where it has one; `accumulate` adds into y. */
  linear(lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate = false): LinearSaved {
    const adapted = this.hooks.linear?.(lin.spec) ?? null;
    if (adapted) return { adapted, saved: adapted.forward(this, lin, x, y, accumulate) };
    encodeLinearForward(this.rec, { x, w0: lin.weight, bias: lin.bias, y, accumulate });
    return null;
  }

  /** dx = dy·W0 (plus the method's terms and its parameters' gradients); `accumulateDx` adds into dx. */
  linearBackward(lin: GpuLinear, saved: LinearSaved, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx = false): void {
    if (saved) saved.adapted.backward(this, lin, saved.saved, dy, x, dx, accumulateDx);
    else if (dx) encodeLinearBackwardInput(this.rec, { dy, w0: lin.weight, dx, accumulate: accumulateDx });
  }

  /** The row statistics a norm saves for its backward: mean and rstd for LayerNorm, rstd for RMSNorm. */
  normStats(name: string): GpuTensor {
    return this.tensor(this.model.arch.norm === 'layernorm' ? [this.rows, 2] : [this.rows], name);
  }

  norm(n: GpuNorm, x: GpuTensor, y: GpuTensor, stats: GpuTensor): void {
    const eps = this.model.config.normEps;
    if (this.model.arch.norm === 'layernorm') encodeLayerNorm(this.rec, { x, weight: n.weight, bias: n.bias!, eps, y, stats });
    else encodeRmsNorm(this.rec, { x, weight: n.weight, eps, y, rstd: stats });
  }

  normBackward(n: GpuNorm, dy: GpuTensor, x: GpuTensor, stats: GpuTensor, dx: GpuTensor, accumulate: boolean): void {
    if (this.model.arch.norm === 'layernorm') encodeLayerNormBackward(this.rec, { dy, x, weight: n.weight, stats, dx, accumulate });
    else encodeRmsNormBackward(this.rec, { dy, x, weight: n.weight, rstd: stats, dx, accumulate });
  }
}
