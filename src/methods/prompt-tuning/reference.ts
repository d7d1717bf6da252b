/** Prompt tuning on the float64 reference: the virtual-token embeddings [n, d] at the virtual-token hook. */
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { PROMPT_EMBEDDING_PARAM } from './gpu';

export function promptTuningReference(embeddings: Float32Array, hiddenSize: number): ReferenceMethod {
  const n = embeddings.length / hiddenSize;
  return {
    attach(tape, { trainable }) {
      const data = Float64Array.from(embeddings);
      const emb = trainable ? tape.param(data, n, hiddenSize) : tape.constant(data, n, hiddenSize);
      return { parameters: new Map([[PROMPT_EMBEDDING_PARAM, emb]]), virtualTokens: { count: n, embeddings: () => emb } };
    },
  };
}
