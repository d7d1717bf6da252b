/**
 * The kernel Web Worker: owns its own WebGPU device and answers the requests of `protocol.ts`.
 * Every handler is wrapped, so each request gets exactly one answer: its result or an `error` response.
 */
import { acquireGpu, browserGpu, type GpuContext } from '../gpu/device';
import { errorResponse, parseRequest, type WorkerRequest, type WorkerResponse } from './protocol';
import { runLoraSelfTest } from './lora-selftest';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

let gpuPromise: Promise<GpuContext> | null = null;

/** The worker's device, acquired on first use and re-acquired after a loss or a failed attempt. */
function getGpu(): Promise<GpuContext> {
  if (!gpuPromise) {
    const attempt = acquireGpu(browserGpu());
    gpuPromise = attempt;
    attempt.then(
      (ctx) => {
        void ctx.lost.then(() => {
          if (gpuPromise === attempt) gpuPromise = null;
        });
      },
      () => {
        if (gpuPromise === attempt) gpuPromise = null;
      },
    );
  }
  return gpuPromise;
}

async function dispatch(request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.kind) {
    case 'probe': {
      const gpu = await getGpu();
      return { id: request.id, kind: 'probe-result', report: gpu.report };
    }
    case 'lora-forward-selftest': {
      const gpu = await getGpu();
      const result = await runLoraSelfTest(gpu, request.seed, request.format ?? 'nf4');
      return { id: request.id, kind: 'lora-forward-selftest-result', result };
    }
    default: {
      const unknown: never = request;
      throw new TypeError(`Unhandled worker request ${JSON.stringify(unknown)}`);
    }
  }
}

function post(response: WorkerResponse): void {
  scope.postMessage(response);
}

async function handle(data: unknown): Promise<void> {
  const rawId = (data as { id?: unknown } | null)?.id;
  const id = typeof rawId === 'number' ? rawId : -1;
  try {
    post(await dispatch(parseRequest(data)));
  } catch (error) {
    post(errorResponse(id, error));
  }
}

scope.addEventListener('message', (event: MessageEvent<unknown>) => {
  void handle(event.data);
});
