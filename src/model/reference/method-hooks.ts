/**
 * How a PEFT method attaches to the float64 reference forward: the same four places as on the GPU
 * (src/engine/method-hooks.ts). A method is attached to one tape at a time; its parameters are tape values, so
 * the tape's backward gives their exact gradients.
 */
import type { Sublayer } from '../architecture';
import type { LinearModuleSpec } from '../weight-names';
import type { Tape, Var } from './tape';

/** A frozen linear layer as a method sees it. */
export interface FrozenLinear {
  spec: LinearModuleSpec;
  /** W0 in nn.Linear orientation [out, in] (Conv1D weights transposed). */
  weight: ArrayLike<number>;
  bias: ArrayLike<number> | null;
  /** x·W0ᵀ + b on the tape (gradient to x only). */
  forward(x: Var): Var;
}

export interface ReferenceHooks {
  /** Input embeddings (prompt tuning, P-tuning): `count` virtual tokens [count, d] in front of every sequence. */
  virtualTokens?: { count: number; embeddings(): Var };
  /**
   * Attention keys and values (prefix tuning): `length` keys and values [length, KV·hd] per layer, in front of
   * every sequence's own keys; never rotated. The real tokens then sit at positions length, length + 1, …
   */
  attentionPrefix?: { length: number; keysValues(layer: number): { k: Var; v: Var } };
  /** Each linear layer (LoRA, DoRA, IA³): its output for input x [M, in]. */
  linear?(layer: FrozenLinear, x: Var): Var;
  /** After each sublayer (bottleneck adapters): what joins the residual stream instead of `out` [M, d]. */
  sublayerOutput?(layer: number, sublayer: Sublayer, out: Var): Var;
  /** The trainable tensors on the tape, by name. */
  parameters: Map<string, Var>;
}

export interface ReferenceMethod {
  /** The hooks on `tape`; with `trainable`, the parameters are tape leaves that collect gradients. */
  attach(tape: Tape, opts: { trainable: boolean }): ReferenceHooks;
}
