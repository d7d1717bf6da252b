/**
 * The product's onnxruntime-web, loaded on first use (it stays out of the studio's first chunk):
 * - in the browser, `onnxruntime-web/webgpu` (the WebGPU EP and the wasm EP), whose one wasm file
 *   (ort-wasm-simd-threaded.asyncify.wasm) is served by Vite from node_modules, never a CDN; one wasm thread and no
 *   proxy worker, so no cross-origin isolation is needed;
 * - under Node (tests, the CLI, through vite-node), the package's Node build with the wasm EP.
 * `import.meta.env.SSR` is a literal Vite writes at build time, so the studio's bundle holds only the browser branch.
 */
export type Ort = typeof import('onnxruntime-web');

let loading: Promise<Ort> | null = null;

async function load(): Promise<Ort> {
  if (import.meta.env.SSR) {
    const ort = (await import('onnxruntime-web')) as Ort;
    ort.env.logLevel = 'error';
    return ort;
  }
  const [ort, wasm] = await Promise.all([import('onnxruntime-web/webgpu'), import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url')]);
  ort.env.wasm.wasmPaths = { wasm: new URL(wasm.default, globalThis.location.href).href };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  return ort as unknown as Ort;
}

/** onnxruntime-web, configured once. */
export function loadOrt(): Promise<Ort> {
  loading ??= load().catch((e: unknown) => {
    loading = null;
    throw new Error(`onnxruntime-web could not be loaded: ${(e as Error).message}`);
  });
  return loading;
}

/** The version of onnxruntime-web that runs the deployed model. */
export function ortVersion(ort: Ort): string {
  return ort.env.versions.web ?? ort.env.versions.common;
}
