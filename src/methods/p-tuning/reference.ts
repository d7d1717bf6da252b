/** P-tuning on the float64 reference: the embeddings through the MLP or LSTM encoder, at the virtual-token hook. */
import type { ReferenceMethod } from '../../model/reference/method-hooks';
import { biLstm } from '../../model/reference/tape-ops';
import { leafFactory, referenceMlp } from '../shared/reference-mlp';
import { P_TUNING_EMBEDDING_PARAM, type PTuningInit } from './gpu';

/** `dropoutSeed`: the pass's dropout seed (training), for the LSTM's dropout between layers; null: eval. */
export function pTuningReference(hiddenSize: number, init: PTuningInit, dropoutSeed: number | null = null): ReferenceMethod {
  const d = hiddenSize;
  const n = init.embedding.length / d;
  return {
    attach(tape, { trainable }) {
      const parameters = new Map();
      const leaf = leafFactory(tape, trainable, parameters);
      const emb = leaf(P_TUNING_EMBEDDING_PARAM, init.embedding, n, d);
      const lstm = init.lstm;
      const layers = lstm?.layers.map((l, k) => {
        const direction = (w: typeof l.forward, suffix: string) => ({
          wIh: leaf(`prompt_encoder.lstm_head.weight_ih_l${k}${suffix}`, w.wIh, 4 * lstm.hidden, w.wIh.length / (4 * lstm.hidden)),
          wHh: leaf(`prompt_encoder.lstm_head.weight_hh_l${k}${suffix}`, w.wHh, 4 * lstm.hidden, lstm.hidden),
          bIh: leaf(`prompt_encoder.lstm_head.bias_ih_l${k}${suffix}`, w.bIh, 4 * lstm.hidden, 1),
          bHh: leaf(`prompt_encoder.lstm_head.bias_hh_l${k}${suffix}`, w.bHh, 4 * lstm.hidden, 1),
        });
        return { forward: direction(l.forward, ''), reverse: direction(l.reverse, '_reverse') };
      });
      const head = referenceMlp(tape, init.head, 'relu', leaf);
      let out = emb;
      if (lstm && layers) {
        const dropout = lstm.dropout > 0 && dropoutSeed !== null ? { p: lstm.dropout, seed: dropoutSeed } : null;
        out = biLstm(tape, emb, layers, lstm.hidden, dropout);
      }
      const virtual = head(out);
      return { parameters, virtualTokens: { count: n, embeddings: () => virtual } };
    },
  };
}
