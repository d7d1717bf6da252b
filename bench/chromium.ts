/**
 * What the browser benchmarks share: the system Chromium with WebGPU (on the core adapter, or on the GL
 * compatibility adapter), and a Vite build served by `vite preview` on 127.0.0.1, so that nothing else at work in
 * the tree can reload the page in the middle of a run.
 */
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from '@playwright/test';
import { build, preview } from 'vite';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** The e2e suite's flags (playwright.config.ts), which that file cannot export without requiring the e2e builds. */
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/** Chromium's WebGPU on OpenGL ES through ANGLE: the compatibility adapter. */
const COMPAT_ARGS = ['--use-webgpu-adapter=opengles', '--use-angle=gl-egl'];

export type BrowserAdapter = 'core' | 'compat';

export function parseAdapter(value: string): BrowserAdapter {
  if (value !== 'core' && value !== 'compat') throw new Error(`--adapter must be core or compat, got ${value}`);
  return value;
}

export function launchChromium(adapter: BrowserAdapter): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: adapter === 'compat' ? [...CHROMIUM_ARGS, ...COMPAT_ARGS] : CHROMIUM_ARGS });
}

/** Builds with `configFile` (the studio's vite.config.ts when absent) and serves the build; `close` stops the server. */
export async function serveBuild(configFile?: string): Promise<{ base: string; close: () => Promise<void> }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  await build({ configFile, root, clearScreen: false, logLevel: 'warn' });
  const server = await preview({ configFile, root, clearScreen: false, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address() as AddressInfo | null;
  if (!address) {
    await server.close();
    throw new Error('the Vite preview server did not start listening');
  }
  return { base: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}
