/**
 * The decoding loop that every generator shares (the GPU engine's KV-cache generation, the deployed ONNX model):
 * run the prompt once, then choose a token from the last logits (sampling.ts, seeded), stream it, and run it
 * through the model, until an end-of-sequence id, maxNewTokens, the context length, or an abort.
 */
import { mulberry32 } from '../util/random';
import { sampleNextToken, type SamplingOptions } from './sampling';

export interface DecodeOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampler; the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** Stop ids; the model's eos ids when left out. */
  eosTokenIds?: number[];
  /** Called with each token as it is chosen. */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
}

export type StopReason = 'eos' | 'length' | 'context' | 'aborted';

export interface DecodeModel {
  /** Runs `ids` (the next tokens) on top of the cache; returns the logits of the last one. */
  step(ids: number[]): Promise<Float32Array>;
  /** Positions held in the cache now (the prompt, any prefix the model adds, and the tokens run so far). */
  cacheLength(): number;
  /** The most positions the cache can hold. */
  maxLength: number;
  /** The model's own end-of-sequence ids. */
  eosTokenIds: readonly number[];
}

export function checkDecodeOptions(promptIds: readonly number[], opts: DecodeOptions, where: string): void {
  if (promptIds.length === 0) throw new RangeError(`${where}: the prompt is empty; give at least one token (e.g. BOS)`);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new RangeError(`${where}: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
}

/** Generates up to maxNewTokens after `promptIds`; yields each token as it is chosen. */
export async function* decodeLoop(model: DecodeModel, promptIds: number[], opts: DecodeOptions): AsyncGenerator<number, StopReason> {
  const eos = new Set(opts.eosTokenIds ?? model.eosTokenIds);
  const rng = mulberry32(opts.seed ?? 0);
  const sequence = [...promptIds];
  let logits = await model.step(promptIds);
  for (let produced = 0; ; produced++) {
    if (opts.signal?.aborted) return 'aborted';
    if (produced >= opts.maxNewTokens) return 'length';
    const next = sampleNextToken(logits, sequence, opts, rng);
    sequence.push(next);
    opts.onToken?.(next);
    yield next;
    if (eos.has(next)) return 'eos';
    if (model.cacheLength() >= model.maxLength) return produced + 1 >= opts.maxNewTokens ? 'length' : 'context';
    logits = await model.step([next]);
  }
}

/** Runs decodeLoop to the end. */
export async function decodeAll(it: AsyncGenerator<number, StopReason>): Promise<{ tokens: number[]; stopReason: StopReason }> {
  const tokens: number[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { tokens, stopReason: r.value };
    tokens.push(r.value);
  }
}
