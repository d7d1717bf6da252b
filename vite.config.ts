import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022' },
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
});
