/**
 * The peer benchmark's page (bench/peers/index.html) as a build of its own, written to dist-bench/ (same path
 * inside it): `npm run build:bench`. bench:peers (bench/peers.ts) builds and serves it, and the e2e suite serves it
 * for e2e/peers-precheck.spec.ts. It holds TensorFlow.js and onnxruntime-web with its 27 MB wasm, which the
 * studio's build (vite.config.ts) does not.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  // The page needs none of public/ (the default model, the sample datasets).
  publicDir: false,
  build: {
    target: 'es2022',
    outDir: 'dist-bench',
    // TF.js and ORT's glue make one large chunk; that is expected of this page.
    chunkSizeWarningLimit: 1024,
    rolldownOptions: { input: fileURLToPath(new URL('./bench/peers/index.html', import.meta.url)) },
  },
});
