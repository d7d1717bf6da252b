/**
 * The studio's state: the page's WebGPU status, the kernel worker's status and the last self-test.
 */
import { create } from 'zustand';
import { acquireGpu, browserGpu, type AdapterReport, type GpuContext } from '../gpu/device';
import type { WeightFormat } from '../kernels/weight-format';
import type { LoraSelfTestResult } from '../worker/protocol';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './stores/worker';
import { exposeSelfTest } from './test-hooks';

export type { ErrorInfo };


export type GpuStatus =
  | { state: 'detecting' }
  | { state: 'ready'; report: AdapterReport; context: GpuContext }
  | { state: 'unavailable'; error: ErrorInfo };

export type WorkerStatus =
  | { state: 'idle' }
  | { state: 'probing' }
  | { state: 'ready'; report: AdapterReport }
  | { state: 'error'; error: ErrorInfo };

export type SelfTestStatus =
  | { state: 'idle' }
  | { state: 'running'; seed: number; format: WeightFormat }
  | { state: 'done'; result: LoraSelfTestResult }
  | { state: 'error'; error: ErrorInfo };

export interface StudioState {
  gpu: GpuStatus;
  worker: WorkerStatus;
  selfTest: SelfTestStatus;
  selfTestSeed: number;
  selfTestFormat: WeightFormat;
  detectGpu: () => Promise<void>;
  probeWorker: () => Promise<void>;
  runSelfTest: () => Promise<void>;
  setSelfTestSeed: (seed: number) => void;
  setSelfTestFormat: (format: WeightFormat) => void;
}

const SELFTEST_TIMEOUT_MS = 110_000;



let detection: Promise<void> | null = null;

export const useStudio = create<StudioState>()((set, get) => ({
  gpu: { state: 'detecting' },
  worker: { state: 'idle' },
  selfTest: { state: 'idle' },
  selfTestSeed: 1234,
  selfTestFormat: 'nf4',

  detectGpu() {
    // Runs once per page, however many times it is called (React StrictMode mounts effects twice).
    detection ??= (async () => {
      try {
        const context = await acquireGpu(browserGpu(), {
          onError: (error) => {
            if (error.name === 'DeviceLostError') set({ gpu: { state: 'unavailable', error: toErrorInfo(error) } });
            else console.error(error);
          },
        });
        set({ gpu: { state: 'ready', report: context.report, context } });
      } catch (error) {
        set({ gpu: { state: 'unavailable', error: toErrorInfo(error) } });
      }
    })();
    return detection;
  },

  async probeWorker() {
    if (get().worker.state === 'probing') return;
    set({ worker: { state: 'probing' } });
    try {
      const response = await kernelWorker().request({ kind: 'probe' }, SELFTEST_TIMEOUT_MS);
      set({ worker: { state: 'ready', report: response.report } });
    } catch (error) {
      set({ worker: { state: 'error', error: toErrorInfo(error) } });
    }
  },

  async runSelfTest() {
    if (get().selfTest.state === 'running') return;
    const { selfTestSeed: seed, selfTestFormat: format } = get();
    set({ selfTest: { state: 'running', seed, format } });
    try {
      const response = await kernelWorker().request({ kind: 'lora-forward-selftest', seed, format }, SELFTEST_TIMEOUT_MS);
      exposeSelfTest(response.result);
      set({ selfTest: { state: 'done', result: response.result } });
    } catch (error) {
      set({ selfTest: { state: 'error', error: toErrorInfo(error) } });
    }
  },

  setSelfTestSeed(seed) {
    if (Number.isInteger(seed) && seed >= 0) set({ selfTestSeed: seed >>> 0 });
  },
  setSelfTestFormat(format) {
    set({ selfTestFormat: format });
  },
}));
