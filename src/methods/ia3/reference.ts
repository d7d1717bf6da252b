/**
 * IA³ on the float64 reference model, as PEFT computes it (tuners/ia3/layer.py, Linear.forward): at the linear-layer
 * hook, a feed-forward module scales its input, y = (x ⊙ l)·W0ᵀ + b, and any other target scales its output, bias
 * included, y = (x·W0ᵀ + b) ⊙ l. Parameters are named "<module path>.ia3_l", shaped as PEFT saves them: (1, in)
 * or (out, 1).
 */
import type { ModelConfig } from '../../model/config';
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { gradOf, type Tape, type Var } from '../../model/reference/tape';
import { linearModules } from '../../model/weight-names';

export interface ReferenceIa3Module {
  feedforward: boolean;
  /** ia3_l: in values (feed-forward) or out values. */
  l: ArrayLike<number>;
}

export type ReferenceIa3 = Map<string, ReferenceIa3Module>;

/** a ⊙ l with l [1, N] or [N, 1] broadcast over a's rows [M, N]; gradients to a and to l (summed over rows). */
export function scaleColumns(t: Tape, a: Var, l: Var): Var {
  const N = a.cols;
  if (l.data.length !== N) throw new RangeError(`scaleColumns: l has ${l.data.length} values, expected ${N} (the columns of a)`);
  const y = new Float64Array(a.data.length);
  for (let i = 0; i < y.length; i++) y[i] = a.data[i] * l.data[i % N];
  return t.record([a, l], y, a.rows, N, (dy) => {
    if (a.requiresGrad) {
      const g = gradOf(a);
      for (let i = 0; i < dy.length; i++) g[i] += dy[i] * l.data[i % N];
    }
    if (l.requiresGrad) {
      const g = gradOf(l);
      for (let i = 0; i < dy.length; i++) g[i % N] += dy[i] * a.data[i];
    }
  });
}

/** IA³ vectors as a method on the reference model (checked against the model's linear modules first). */
export function ia3Reference(config: ModelConfig, ia3: ReferenceIa3): ReferenceMethod {
  const specs = new Map(linearModules(config).map((m) => [m.path, m]));
  for (const [path, m] of ia3) {
    const spec = specs.get(path);
    if (!spec) throw new RangeError(`IA³ module "${path}" is not a linear layer of this ${config.modelType} model`);
    const n = m.feedforward ? spec.inFeatures : spec.outFeatures;
    if (m.l.length !== n) throw new RangeError(`IA³ "${path}": ia3_l has ${m.l.length} values, expected ${n}`);
  }
  return {
    attach(tape, { trainable }) {
      const parameters = new Map<string, Var>();
      const vars = new Map<string, Var>();
      for (const [path, m] of ia3) {
        const spec = specs.get(path)!;
        const [rows, cols] = m.feedforward ? [1, spec.inFeatures] : [spec.outFeatures, 1];
        const data = Float64Array.from(m.l);
        const v = trainable ? tape.param(data, rows, cols) : tape.constant(data, rows, cols);
        vars.set(path, v);
        parameters.set(`${path}.ia3_l`, v);
      }
      return {
        parameters,
        linear(layer, x) {
          const l = vars.get(layer.spec.path);
          if (!l) return layer.forward(x);
          return ia3.get(layer.spec.path)!.feedforward ? layer.forward(scaleColumns(tape, x, l)) : scaleColumns(tape, layer.forward(x), l);
        },
      };
    },
  };
}
