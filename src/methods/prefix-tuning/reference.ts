/**
 * Prefix tuning on the float64 reference: the prefix [n, L·2·kvDim] in PEFT's layout (slice 2l: layer l's keys,
 * 2l + 1: its values) at the attention-prefix hook.
 */
import type { ModelConfig } from '../../model/config';
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { sliceCols, type Tape, type Var } from '../../model/reference/tape';
import { PREFIX_EMBEDDING_PARAM, prefixTokenDim } from './gpu';

/** The attention-prefix hook over a prefix Var [n, L·2·kvDim]. */
export function referencePrefixHook(tape: Tape, prefix: Var, kvDim: number) {
  return {
    length: prefix.rows,
    keysValues: (l: number) => ({ k: sliceCols(tape, prefix, 2 * l * kvDim, kvDim), v: sliceCols(tape, prefix, (2 * l + 1) * kvDim, kvDim) }),
  };
}

export function prefixTuningReference(c: ModelConfig, prefix: Float32Array): ReferenceMethod {
  const kvDim = prefixTokenDim(c);
  const width = c.numLayers * 2 * kvDim;
  const n = prefix.length / width;
  return {
    attach(tape, { trainable }) {
      const data = Float64Array.from(prefix);
      const p = trainable ? tape.param(data, n, width) : tape.constant(data, n, width);
      return { parameters: new Map([[PREFIX_EMBEDDING_PARAM, p]]), attentionPrefix: referencePrefixHook(tape, p, kvDim) };
    },
  };
}
