/** The page's one kernel worker (started on first use), and the error shape the stores keep. */
import { createKernelWorker, type KernelWorkerClient } from '../../worker/client';
import { exposeKernelWorker } from '../test-hooks';

export interface ErrorInfo {
  name: string;
  message: string;
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  return { name: 'Error', message: String(error) };
}

let workerClient: KernelWorkerClient | null = null;

export function kernelWorker(): KernelWorkerClient {
  workerClient ??= createKernelWorker();
  return workerClient;
}

exposeKernelWorker(kernelWorker);
