/**
 * The end-to-end tests' handles on the page, set in the test build only (src/test-build.d.ts): in any other
 * build these functions are empty and the globals do not exist.
 */
import type { KernelWorkerClient } from '../worker/client';
import type { LoraSelfTestResult } from '../worker/protocol';

declare global {
  interface Window {
    /** The last full self-test result (test build only). */
    __peftSelfTest?: LoraSelfTestResult;
    /** The kernel worker's client, started on first use (test build only). */
    __peftStudio?: { readonly client: KernelWorkerClient };
  }
}

/** Puts the kernel worker's client on `window.__peftStudio`; `client` starts the worker when first read. */
export function exposeKernelWorker(client: () => KernelWorkerClient): void {
  if (import.meta.env.TEST_BUILD && typeof window !== 'undefined') {
    window.__peftStudio = {
      get client() {
        return client();
      },
    };
  }
}

/** Puts the last self-test result on `window.__peftSelfTest`. */
export function exposeSelfTest(result: LoraSelfTestResult): void {
  if (import.meta.env.TEST_BUILD) window.__peftSelfTest = result;
}
