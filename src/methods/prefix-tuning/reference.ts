/**
 * Prefix tuning on the float64 reference: the prefix [n, L·2·kvDim] in PEFT's layout (slice 2l: layer l's keys,
 * 2l + 1: its values) at the attention-prefix hook.
 */
import type { ModelConfig } from '../../model/config';
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { sliceCols, type Tape, type Var } from '../../model/reference/tape';
import { leafFactory, referenceMlp } from '../shared/reference-mlp';
import { PREFIX_EMBEDDING_PARAM, prefixTokenDim } from './gpu';
import type { PrefixProjectionInit } from './projection';

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

/** Prefix tuning with prefix_projection: the embeddings [n, token_dim] through Linear, Tanh, Linear. */
export function prefixProjectionReference(c: ModelConfig, init: PrefixProjectionInit): ReferenceMethod {
  const kvDim = prefixTokenDim(c);
  const n = init.embedding.length / kvDim;
  return {
    attach(tape, { trainable }) {
      const parameters = new Map<string, Var>();
      const leaf = leafFactory(tape, trainable, parameters);
      const prefix = referenceMlp(tape, init.transform, 'tanh', leaf)(leaf(PREFIX_EMBEDDING_PARAM, init.embedding, n, kvDim));
      return { parameters, attentionPrefix: referencePrefixHook(tape, prefix, kvDim) };
    },
  };
}
