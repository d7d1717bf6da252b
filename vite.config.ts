import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';
import react from '@vitejs/plugin-react';

/**
 * @xenova/transformers runs on the product's onnxruntime-web (1.30) rather than its own 1.14 copy, which would
 * fetch its wasm from a CDN: its ONNX backend module is resolved to src/deploy/onnx/xenova-ort-backend.ts.
 */
function xenovaOnProductOrt(): Plugin {
  const backend = fileURLToPath(new URL('./src/deploy/onnx/xenova-ort-backend.ts', import.meta.url));
  return {
    name: 'xenova-on-product-ort',
    enforce: 'pre',
    resolveId(id, importer) {
      if (importer?.includes('@xenova/transformers/src/') && /\/backends\/onnx\.js$/.test(id)) return backend;
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
  plugins: [xenovaOnProductOrt(), react()],
  worker: { format: 'es', plugins: () => [xenovaOnProductOrt()] },
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
    // Through Vite, so that its ONNX backend is the product's here too (xenovaOnProductOrt), as in the studio.
    server: { deps: { inline: [/@xenova\/transformers/] } },
    // Two cores: run files two at a time.
    maxWorkers: 2,
  },
}));
