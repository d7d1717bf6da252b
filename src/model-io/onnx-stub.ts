/**
 * A stand-in for @xenova/transformers' `src/backends/onnx.js`, for bundles that use only its tokenizers
 * (src/model-io/tokenizer.ts): it keeps onnxruntime-web 1.14 (about 800 kB, and a CDN fetch of its wasm when a
 * session is created) out of the bundle. Wire it with a resolver in the Vite config, e.g.
 *
 *   { name: 'xenova-no-onnx', enforce: 'pre', resolveId(id, importer) {
 *       if (importer?.includes('@xenova/transformers/src/') && /\/backends\/onnx\.js$/.test(id))
 *         return fileURLToPath(new URL('./src/model-io/onnx-stub.ts', import.meta.url)); } }
 *
 * Nothing in the tokenizers creates an inference session, so a minimal tensor type is all they need.
 */
class StubTensor {
  readonly size: number;
  constructor(
    readonly type: string,
    readonly data: ArrayLike<unknown>,
    readonly dims: number[],
  ) {
    this.size = data.length;
  }
}

export const ONNX = {
  env: {} as Record<string, unknown>,
  Tensor: StubTensor,
  InferenceSession: {
    create(): never {
      throw new Error('ONNX Runtime is not bundled in PEFT Studio: only the tokenizers of @xenova/transformers are used');
    },
  },
};

export const executionProviders: string[] = [];
