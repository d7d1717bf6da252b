/** The prompt encoders' MLP heads on the float64 reference (the same as gpu-mlp.ts, on the tape). */
import type { Tape, Var } from '../../model/reference/tape';
import type { PointwiseFn } from '../../kernels/reference/activations';
import { activation as act, linear } from '../../model/reference/tape-ops';
import type { LinearInit } from './gpu-mlp';

/** Leaves for the given initial values: parameters (with gradients) or constants. */
export type Leaf = (name: string, data: ArrayLike<number>, rows: number, cols: number) => Var;

/** Sequential(Linear, act, …, Linear) on the tape, its weights made by `leaf` under the layers' names. */
export function referenceMlp(tape: Tape, layers: readonly LinearInit[], activation: PointwiseFn, leaf: Leaf): (x: Var) => Var {
  const vars = layers.map((l) => ({
    weight: leaf(`${l.name}.weight`, l.weight, l.outFeatures, l.inFeatures),
    bias: leaf(`${l.name}.bias`, l.bias, l.outFeatures, 1),
  }));
  return (x) => {
    let h = x;
    vars.forEach((v, i) => {
      h = linear(tape, h, v.weight, v.bias);
      if (i < vars.length - 1) h = act(tape, activation, h);
    });
    return h;
  };
}

/** A leaf factory that records every leaf in `parameters` by name. */
export function leafFactory(tape: Tape, trainable: boolean, parameters: Map<string, Var>): Leaf {
  return (name, data, rows, cols) => {
    const values = Float64Array.from(data);
    const v = trainable ? tape.param(values, rows, cols) : tape.constant(values, rows, cols);
    parameters.set(name, v);
    return v;
  };
}
