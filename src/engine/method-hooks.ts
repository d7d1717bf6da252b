/**
 * How a PEFT method attaches to the GPU forward and backward. The layer code (forward.ts, backward.ts) calls a
 * method at four places and nowhere else:
 *
 *   embed(ids)                  ← virtualTokens: n trainable embeddings in front of every sequence
 *   for each block:
 *     q, k, v = linear(norm1(h)) ← linear: every linear layer (LoRA, DoRA, IA³)
 *     k, v = [prefix; k, v]      ← attentionPrefix: n trainable keys and values per layer (never rotated)
 *     h += o_proj(attention)     ← sublayerOutput 'attention' (bottleneck adapters)
 *     h += mlp(norm2(h))         ← sublayerOutput 'mlp'
 *   logits = lm_head(norm(h))
 *
 * Each hook returns what its backward needs; the layer code keeps that with the block's saved activations and
 * hands it back. Gradients go only to the method's own parameters (and on to the layer's input).
 */
import type { TensorOptions } from './activation-pool';
import type { CommandRecorder } from '../kernels/dispatch';
import type { GpuTensor } from '../kernels/tensor';
import type { Sublayer } from '../model/architecture';
import type { LinearModuleSpec } from '../model/weight-names';
import type { GpuLinear } from './gpu-model';

/** What a hook sees of the pass it runs in. */
export interface PassContext {
  readonly rec: CommandRecorder;
  /**
   * A tensor for this pass (from the pass's activation pool, counted in its activation bytes). A tensor the host
   * fills with queue.writeBuffer must say so (`hostWritten`): see ActivationPool.
   */
  tensor(shape: readonly number[], name: string, opts?: TensorOptions): GpuTensor;
  /** A column of ones [rows, 1] (for reductions over tokens, such as bias gradients). */
  ones(): GpuTensor;
  /** Rows of every activation matrix of the pass: sequences × positions. */
  readonly rows: number;
  /** Multiplies what the method adds: 1 uses the adapter as trained (0 never reaches a hook: it runs the base model). */
  readonly scale: number;
  /** Seed of this pass's dropout masks; null in evaluation (no dropout, as PEFT in eval mode). */
  readonly dropoutSeed: number | null;
  /** Add this pass's gradients to the parameters' gradient buffers instead of overwriting them. */
  readonly accumulateGrads: boolean;
}

/** A method's version of one linear layer: y (+)= f(x) in the forward, dx and its parameters' gradients in the backward. */
export interface AdaptedLinear<Saved = unknown> {
  forward(ctx: PassContext, lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate: boolean): Saved;
  /** dx is null where the layer's input needs no gradient (the first layer's projections); accumulateDx adds into dx. */
  backward(ctx: PassContext, lin: GpuLinear, saved: Saved, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx: boolean): void;
}

/** A method's transform of a sublayer's output [rows, d] before it joins the residual stream. */
export interface SublayerAdapter<Saved = unknown> {
  forward(ctx: PassContext, out: GpuTensor): { y: GpuTensor; saved: Saved };
  /** The gradient with respect to `out`, given the gradient of `y`. */
  backward(ctx: PassContext, saved: Saved, dy: GpuTensor): GpuTensor;
}

/** n virtual-token embeddings in front of every sequence (prompt tuning, P-tuning). */
export interface VirtualTokensHook {
  readonly count: number;
  /** The embeddings [count, d] the virtual positions take before position embeddings are added. */
  forward(ctx: PassContext): GpuTensor;
  /** Gradient [count, d] of those embeddings, summed over the batch's sequences. */
  backward(ctx: PassContext, dEmbeddings: GpuTensor): void;
}

/** n keys and values per layer in front of every sequence's own (prefix tuning). */
export interface AttentionPrefixHook {
  readonly length: number;
  /** Layer l's prefix keys and values, each [length, kvHeads·headDim]. */
  forward(ctx: PassContext, layer: number): { k: GpuTensor; v: GpuTensor };
  /** Their gradients, summed over the batch's sequences. */
  backward(ctx: PassContext, layer: number, dk: GpuTensor, dv: GpuTensor): void;
}

export interface MethodHooks {
  /**
   * At the start of every pass's forward (a generation's first step included), before any other hook: for work a
   * method does once per pass, such as running a prompt encoder whose output the other hooks then hand out.
   */
  beginPass?(ctx: PassContext): void;
  /** At the end of a training pass's backward, after every other hook's backward: the encoder's own backward. */
  endBackward?(ctx: PassContext): void;
  virtualTokens?: VirtualTokensHook;
  attentionPrefix?: AttentionPrefixHook;
  /** The method's version of a linear layer, or null to leave it as it is. */
  linear?(spec: LinearModuleSpec): AdaptedLinear | null;
  /** The method's transform of a sublayer's output, or null for none. */
  sublayerOutput?(layer: number, sublayer: Sublayer): SublayerAdapter | null;
}

/** A trainable tensor of a method, with its gradient, as the optimizer sees it. */
export interface TrainableTensor {
  /** The checkpoint name, e.g. "model.layers.0.self_attn.q_proj.lora_A". */
  name: string;
  value: GpuTensor;
  /** Same number of values as `value`. */
  grad: GpuTensor;
}

/** A PEFT method's adapter on the GPU: its hooks, its trainable tensors, and its lifetime. */
export interface GpuAdapter extends MethodHooks {
  parameters(): TrainableTensor[];
  destroy(): void;
}
