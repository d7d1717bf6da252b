/**
 * The one place where training and generation differ: how attention reads and writes its keys and values.
 *
 * - `SequenceAttention` (training, evaluation): the whole batch at once; keys and values are this pass's own
 *   (behind the method's prefix, if any). It saves statistics, not probabilities, for the backward: one
 *   log-sum-exp per query and head (lse [B, H, T]), from which the backward recomputes the probabilities, so no
 *   B·heads·T² buffer exists (memory-efficient attention).
 * - `CachedAttention` (generation): keys and values are appended to a per-layer KV cache (which starts with the
 *   method's prefix), and the new tokens attend over everything cached.
 *
 * The layer code (forward.ts) calls `attend` and does not know which one it has.
 */
import { encodeAttentionBackward, encodeAttentionDecode, encodeAttentionForward, encodeKvCacheAppend } from '../kernels/attention';
import type { GpuIndexTensor } from '../kernels/index-tensor';
import { zerosTensor, type GpuTensor } from '../kernels/tensor';
import type { ModelConfig } from '../model/config';
import type { Pass } from './pass';
import { copySequenceRows, prependRows, sumPrefixRows, writePrefixRows } from './sequence-rows';

export interface AttentionMode {
  /**
   * o = attention(q, k, v) for the rows of the pass: q [rows, H·hd] and k, v [rows, KV·hd] of layer `layer`, with
   * positions already applied. Returns what a backward needs (SequenceAttention only).
   */
  attend(p: Pass, layer: number, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: GpuTensor): unknown;
}

function heads(c: ModelConfig) {
  return { heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, scale: 1 / Math.sqrt(c.headDim) };
}

interface SequenceSaved {
  q: GpuTensor;
  /** Keys and values as attention read them: [B·(P + S), KV·hd] with a prefix, else the projections'. */
  k: GpuTensor;
  v: GpuTensor;
  /** The attention output [B·S, H·hd] (the `o` passed to attend) and its softmax statistics lse [B, H, S]. */
  o: GpuTensor;
  lse: GpuTensor;
}

/** Attention over the whole batch: B sequences of S positions each (behind the method's P prefix keys). */
export class SequenceAttention implements AttentionMode {
  constructor(
    readonly batch: number,
    readonly seqLen: number,
    readonly keyMask: GpuIndexTensor | null,
  ) {}

  attend(p: Pass, layer: number, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: GpuTensor): SequenceSaved {
    const c = p.model.config;
    const B = this.batch;
    const prefix = p.hooks.attentionPrefix;
    const P = prefix?.length ?? 0;
    if (prefix) {
      const kv = prefix.forward(p, layer);
      k = prependRows(p, kv.k, k, B, `layer ${layer} keys with prefix`);
      v = prependRows(p, kv.v, v, B, `layer ${layer} values with prefix`);
    }
    const lse = p.tensor([B, c.numHeads, this.seqLen], `layer ${layer} attention lse`);
    encodeAttentionForward(p.rec, {
      q, k, v, batch: B, seqLen: this.seqLen, prefixLength: P, ...heads(c), keyMask: this.keyMask, out: o, lse,
    });
    return { q, k, v, o, lse };
  }

  /** dq, dk, dv of the pass's own rows from dO; the prefix's share goes to the method. */
  backward(p: Pass, layer: number, saved: unknown, dO: GpuTensor): { dq: GpuTensor; dk: GpuTensor; dv: GpuTensor } {
    const s = saved as SequenceSaved;
    const c = p.model.config;
    const B = this.batch;
    const S = this.seqLen;
    const prefix = p.hooks.attentionPrefix;
    const P = prefix?.length ?? 0;
    const kvDim = c.numKvHeads * c.headDim;
    const L = `layer ${layer}`;
    const dq = p.tensor([B * S, c.numHeads * c.headDim], `${L} dq`);
    const dkAll = p.tensor([B * (P + S), kvDim], `${L} dk`);
    const dvAll = p.tensor([B * (P + S), kvDim], `${L} dv`);
    encodeAttentionBackward(p.rec, {
      dOut: dO, q: s.q, k: s.k, v: s.v, out: s.o, lse: s.lse, keyMask: this.keyMask, batch: B, seqLen: S, prefixLength: P, ...heads(c),
      dq, dk: dkAll, dv: dvAll,
    });
    if (!prefix) return { dq, dk: dkAll, dv: dvAll };
    prefix.backward(p, layer, sumPrefixRows(p, dkAll, B, P, `${L} d prefix keys`), sumPrefixRows(p, dvAll, B, P, `${L} d prefix values`));
    const own = (all: GpuTensor, name: string) => {
      const t = p.tensor([B * S, kvDim], name);
      copySequenceRows(p, all, P + S, P, t, S, 0, S, B);
      return t;
    };
    return { dq, dk: own(dkAll, `${L} dk (own keys)`), dv: own(dvAll, `${L} dv (own values)`) };
  }
}

/** Keys and values of one sequence, per layer [1, maxT, KV·hd], kept across the steps of a generation. */
export class CachedAttention implements AttentionMode {
  private readonly k: GpuTensor[] = [];
  private readonly v: GpuTensor[] = [];
  /** Positions cached (the prefix included) before the current step. */
  length = 0;

  constructor(
    device: GPUDevice,
    c: ModelConfig,
    readonly maxT: number,
  ) {
    const kvDim = c.numKvHeads * c.headDim;
    for (let i = 0; i < c.numLayers; i++) {
      this.k.push(zerosTensor(device, [1, maxT, kvDim], `layer ${i} key cache`));
      this.v.push(zerosTensor(device, [1, maxT, kvDim], `layer ${i} value cache`));
    }
  }

  /** Before the first step, in the first step's pass: the method's prefix keys and values take the first cache positions. */
  start(p: Pass): void {
    p.begin();
    const prefix = p.hooks.attentionPrefix;
    if (!prefix || this.length > 0) return;
    this.k.forEach((kCache, i) => {
      const kv = prefix.forward(p, i);
      writePrefixRows(p, kv.k, { ...kCache, shape: [this.maxT, kv.k.shape[1]] }, 1);
      writePrefixRows(p, kv.v, { ...this.v[i], shape: [this.maxT, kv.v.shape[1]] }, 1);
    });
    this.length = prefix.length;
  }

  attend(p: Pass, layer: number, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: GpuTensor): null {
    const geometry = { batch: 1, newTokens: q.shape[0], pastLen: this.length, maxT: this.maxT };
    encodeKvCacheAppend(p.rec, { k, v, kCache: this.k[layer], vCache: this.v[layer], ...geometry });
    encodeAttentionDecode(p.rec, { q, kCache: this.k[layer], vCache: this.v[layer], ...geometry, ...heads(p.model.config), out: o });
    return null;
  }

  /** After a step's work is recorded: its tokens are now cached. */
  advance(tokens: number): void {
    this.length += tokens;
  }

  destroy(): void {
    for (const t of [...this.k, ...this.v]) t.buffer.destroy();
  }
}
