/**
 * A deployed ONNX export (decoder-graph.ts) run by onnxruntime-web: a forward over a batch (the logits of every
 * position) and KV-cache generation through the shared decoding loop (src/model/decode-loop.ts), so the same
 * prompt, sampling settings and seed give the same tokens as the studio's own generation.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import type { ModelConfig } from '../../model/config';
import { checkDecodeOptions, decodeAll, decodeLoop, type DecodeOptions, type StopReason } from '../../model/decode-loop';
import { ONNX_INPUT, pastName, presentName } from './decoder-graph';
import { loadOrt, ortVersion, type Ort } from './ort-runtime';

/** Where the session runs: the WebGPU EP (on a device of the caller's) or wasm. */
export type OnnxBackend = { kind: 'webgpu'; device?: GPUDevice } | { kind: 'wasm' };

export interface OnnxModelBytes {
  model: Uint8Array;
  /** The external data file, by the name the model's initializers give. */
  externalData?: { path: string; data: Uint8Array } | null;
}

export class OnnxCausalLM {
  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly config: ModelConfig,
    /** What ran it, e.g. "onnxruntime-web 1.30.0 (wasm)". */
    readonly runtime: string,
  ) {}

  static async create(files: OnnxModelBytes, config: ModelConfig, backend: OnnxBackend = { kind: 'wasm' }): Promise<OnnxCausalLM> {
    const ort = await loadOrt();
    const ep = backend.kind === 'webgpu' ? (backend.device ? { name: 'webgpu', device: backend.device } : 'webgpu') : 'wasm';
    const session = await ort.InferenceSession.create(files.model, {
      executionProviders: [ep as InferenceSession.ExecutionProviderConfig],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(files.externalData ? { externalData: [{ path: files.externalData.path, data: files.externalData.data }] } : {}),
    });
    return new OnnxCausalLM(ort, session, config, `onnxruntime-web ${ortVersion(ort)} (${backend.kind})`);
  }

  private emptyPast(batch: number): Record<string, Tensor> {
    const c = this.config;
    const feeds: Record<string, Tensor> = {};
    for (let i = 0; i < c.numLayers; i++) {
      for (const kv of ['key', 'value'] as const) feeds[pastName(i, kv)] = new this.ort.Tensor('float32', new Float32Array(0), [batch, c.numKvHeads, 0, c.headDim]);
    }
    return feeds;
  }

  private int64(rows: readonly (readonly number[])[]): Tensor {
    return new this.ort.Tensor('int64', BigInt64Array.from(rows.flat().map((v) => BigInt(v))), [rows.length, rows[0].length]);
  }

  /**
   * Logits of every position of a right-padded batch, [batch, seq, vocab], with no past. Positions count the
   * unmasked tokens before each one, as transformers.js computes position_ids.
   */
  async logits(inputIds: number[][], attentionMask: number[][]): Promise<Float32Array> {
    const positions = attentionMask.map((row) => {
      let n = 0;
      return row.map((m) => (m ? n++ : 1));
    });
    const out = await this.session.run({
      [ONNX_INPUT.ids]: this.int64(inputIds),
      [ONNX_INPUT.mask]: this.int64(attentionMask),
      [ONNX_INPUT.positions]: this.int64(positions),
      ...this.emptyPast(inputIds.length),
    });
    return out.logits.data as Float32Array;
  }

  /** Generates after `promptIds` with a KV cache; yields each token as it is chosen. */
  async *generateTokens(promptIds: number[], opts: DecodeOptions): AsyncGenerator<number, StopReason> {
    const c = this.config;
    checkDecodeOptions(promptIds, opts, 'ONNX generate');
    if (promptIds.length > c.maxPositions) throw new RangeError(`ONNX generate: the prompt has ${promptIds.length} tokens, the model's context is ${c.maxPositions}`);
    let past = this.emptyPast(1);
    let length = 0;
    const step = async (ids: number[]): Promise<Float32Array> => {
      const out = await this.session.run({
        [ONNX_INPUT.ids]: this.int64([ids]),
        [ONNX_INPUT.mask]: this.int64([new Array<number>(length + ids.length).fill(1)]),
        [ONNX_INPUT.positions]: this.int64([ids.map((_, i) => length + i)]),
        ...past,
      });
      const next: Record<string, Tensor> = {};
      for (let i = 0; i < c.numLayers; i++) for (const kv of ['key', 'value'] as const) next[pastName(i, kv)] = out[presentName(i, kv)];
      for (const t of Object.values(past)) t.dispose();
      past = next;
      length += ids.length;
      const logits = out.logits.data as Float32Array;
      return logits.slice((ids.length - 1) * c.vocabSize, ids.length * c.vocabSize);
    };
    try {
      return yield* decodeLoop(
        { step, cacheLength: () => length, maxLength: Math.min(c.maxPositions, promptIds.length + opts.maxNewTokens), eosTokenIds: c.eosTokenIds },
        promptIds,
        opts,
      );
    } finally {
      for (const t of Object.values(past)) t.dispose();
    }
  }

  generate(promptIds: number[], opts: DecodeOptions): Promise<{ tokens: number[]; stopReason: StopReason }> {
    return decodeAll(this.generateTokens(promptIds, opts));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
