import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';
import react from '@vitejs/plugin-react';

/**
 * PEFT Studio uses only the tokenizers of @xenova/transformers. Its ONNX backend (onnxruntime-web 1.14, which
 * fetches wasm from a CDN when a session is created) is replaced by a stub, so it is neither bundled nor able
 * to reach the network.
 */
function xenovaWithoutOnnx(): Plugin {
  const stub = fileURLToPath(new URL('./src/model-io/onnx-stub.ts', import.meta.url));
  return {
    name: 'xenova-without-onnx',
    enforce: 'pre',
    resolveId(id, importer) {
      if (importer?.includes('@xenova/transformers/src/') && /\/backends\/onnx\.js$/.test(id)) return stub;
      return null;
    },
  };
}

/**
 * The studio: `vite build` writes the production build to dist/ (index.html is its only input). `--mode e2e` is
 * the test build, with the end-to-end tests' hooks (import.meta.env.TEST_BUILD, src/test-build.d.ts), written to
 * dist-e2e/; `vite preview --mode e2e` serves it. The peer benchmark's page has a build of its own
 * (vite.bench.config.ts).
 */
export default defineConfig(({ mode }) => ({
  define: { 'import.meta.env.TEST_BUILD': JSON.stringify(mode === 'e2e') },
  plugins: [xenovaWithoutOnnx(), react()],
  worker: { format: 'es', plugins: () => [xenovaWithoutOnnx()] },
  build: {
    target: 'es2022',
    outDir: mode === 'e2e' ? 'dist-e2e' : 'dist',
  },
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup-webgpu.ts'],
    // GPU work on SwiftShader is slow and shader compiles take about a second each.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: run files two at a time.
    maxWorkers: 2,
  },
}));
