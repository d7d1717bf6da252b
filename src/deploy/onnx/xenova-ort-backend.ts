/**
 * @xenova/transformers 2.17.2's `src/backends/onnx.js`, on the product's onnxruntime-web (ort-runtime.ts) instead of
 * its own 1.14 copy, which would fetch its wasm from a CDN. The Vite config resolves that module here, for the
 * studio, its worker and the tests alike.
 *
 * Two differences between the versions are bridged here:
 * - transformers.js copies a runtime tensor's own fields (`Object.assign`) into its Tensor; onnxruntime 1.30's
 *   tensors keep their data behind a getter, so tensors cross this boundary as plain objects ({type, data, dims,
 *   size}) and are rebuilt as onnxruntime tensors for each run;
 * - onnxruntime loads lazily (InferenceSession.create awaits it), so importing the tokenizers costs nothing.
 * Sessions run on the wasm EP. The tests load @xenova/transformers through Vite too (vite.config.ts), so they run
 * this module, not onnxruntime-node.
 */
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-web';
import { loadOrt, type Ort } from './ort-runtime';

type TensorType = OrtTensor.Type;

/** The tensor transformers.js wraps: every field its Tensor reads is an own field. */
class PlainTensor {
  readonly size: number;
  constructor(
    readonly type: TensorType,
    readonly data: OrtTensor.DataType,
    readonly dims: readonly number[],
  ) {
    this.size = dims.reduce((a, b) => a * b, 1);
  }
}

/** A session as transformers.js sees one: `instanceof InferenceSession`, with `handler.dispose()` (its dispose path). */
class XenovaSession {
  readonly handler: { dispose(): Promise<void> };

  constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {
    this.handler = { dispose: () => session.release() };
  }

  static async create(model: Uint8Array): Promise<XenovaSession> {
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    return new XenovaSession(ort, session);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, PlainTensor>): Promise<Record<string, PlainTensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    const out = await this.session.run(ortFeeds);
    const result: Record<string, PlainTensor> = {};
    for (const [name, t] of Object.entries(out)) result[name] = new PlainTensor(t.type, t.data, t.dims);
    return result;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export const ONNX = {
  /** transformers.js writes its CDN wasm path here at import; nothing reads it (ort-runtime.ts serves the wasm). */
  env: { wasm: {} } as Record<string, Record<string, unknown>>,
  Tensor: PlainTensor,
  InferenceSession: XenovaSession,
};

export const executionProviders = ['wasm'];
