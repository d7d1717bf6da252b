/**
 * Bottleneck adapters on the float64 reference model, as AdapterHub's Adapter computes them with the studio's
 * settings (methods/modeling.py, Adapter.forward with residual_before_ln true and original_ln_before false): at the
 * sublayer-output hook, y = out + up(act(down(out))). Parameters are named as the library saves them.
 */
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { add, type Var } from '../../model/reference/tape';
import type { BottleneckNonLinearity } from '../../options/bottleneck-fields';
import { leafFactory, referenceMlp } from '../shared/reference-mlp';
import type { BottleneckInit } from './gpu';

export function bottleneckReference(hidden: number, bottleneck: number, activation: BottleneckNonLinearity, inits: readonly BottleneckInit[]): ReferenceMethod {
  return {
    attach(tape, { trainable }) {
      const parameters = new Map<string, Var>();
      const leaf = leafFactory(tape, trainable, parameters);
      const mlps = new Map<string, (x: Var) => Var>();
      for (const i of inits) {
        const mlp = referenceMlp(
          tape,
          [
            { name: `${i.target.prefix}.adapter_down.0`, weight: i.downWeight, bias: i.downBias, inFeatures: hidden, outFeatures: bottleneck },
            { name: `${i.target.prefix}.adapter_up`, weight: i.upWeight, bias: i.upBias, inFeatures: bottleneck, outFeatures: hidden },
          ],
          activation,
          leaf,
        );
        mlps.set(`${i.target.layer}/${i.target.place}`, mlp);
      }
      return {
        parameters,
        sublayerOutput(layer, sublayer, out) {
          const mlp = mlps.get(`${layer}/${sublayer}`);
          return mlp ? add(tape, out, mlp(out)) : out;
        },
      };
    },
  };
}
