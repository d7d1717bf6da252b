/**
 * End-to-end tests in headless Chromium with WebGPU. Browsers cannot be downloaded here, so the system
 * Chromium is used; without a GPU it runs WebGPU on SwiftShader (see the README of shared notes), which is
 * slow, hence the generous timeouts. `npm run test:e2e` builds first; this config serves two builds:
 * - the studio's test build (dist-e2e/, `vite build --mode e2e`: the production build plus the tests' hooks,
 *   src/test-build.d.ts), for every spec but the peer benchmark's;
 * - the peer benchmark's page (dist-bench/, `npm run build:bench`), for e2e/peers-precheck.spec.ts.
 */
import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

const HOST = '127.0.0.1';

/** A build the specs run against, served by `vite preview <previewArgs>` on its own port. */
interface Served {
  folder: string;
  page: string;
  build: string;
  previewArgs: string;
  port: number;
}
const studio: Served = { folder: 'dist-e2e', page: 'index.html', build: 'npx vite build --mode e2e', previewArgs: '--mode e2e', port: 4173 };
const peers: Served = { folder: 'dist-bench', page: 'bench/peers/index.html', build: 'npm run build:bench', previewArgs: '-c vite.bench.config.ts', port: 4174 };
const PEERS_SPEC = /peers-precheck\.spec\.ts$/;
const urlOf = (s: Served) => `http://${HOST}:${s.port}`;

for (const s of [studio, peers]) {
  if (!existsSync(`${s.folder}/${s.page}`)) {
    throw new Error(`${s.folder}/${s.page} is missing: build first with \`${s.build}\` (or run \`npm run test:e2e\`).`);
  }
}

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 60_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'studio', testIgnore: PEERS_SPEC, use: { baseURL: urlOf(studio) } },
    { name: 'peers', testMatch: PEERS_SPEC, use: { baseURL: urlOf(peers) } },
  ],
  webServer: [studio, peers].map((s) => ({
    command: `npx vite preview ${s.previewArgs} --host ${HOST} --port ${s.port} --strictPort`,
    // Ready when the page answers (the benchmark's server has nothing at /).
    url: `${urlOf(s)}/${s.page}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
  })),
});
