/**
 * The kernel Web Worker: owns its own WebGPU device and answers the requests of `protocol.ts`.
 * Every handler is wrapped, so each request gets exactly one answer: its result or an `error` response.
 * A `train-start` streams `train-log` and `train-progress` messages before its answer; one run at a time.
 */
import { acquireGpu, browserGpu, type GpuContext } from '../gpu/device';
import {
  errorResponse,
  parseRequest,
  type TrainControlRequest,
  type TrainStartRequest,
  type WorkerMessage,
  type WorkerRequest,
  type WorkerResponse,
} from './protocol';
import { runLoraSelfTest } from './lora-selftest';
import { NoSuchRunError, TrainingBusyError, TrainSession } from './train-session';

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

/** The run in progress (one per worker: it owns the device's memory for the model). */
let session: TrainSession | null = null;

async function startTraining(request: TrainStartRequest): Promise<WorkerResponse> {
  if (session && !session.finished) {
    throw new TrainingBusyError(
      `a training run (train-start request ${session.runId}) is already running in this worker; stop it (train-stop with runId ${session.runId}) or wait for its result before starting another`,
    );
  }
  const own = new TrainSession(request, post);
  session = own;
  try {
    return await own.run(getGpu());
  } finally {
    if (session === own) session = null;
  }
}

async function controlTraining(request: TrainControlRequest): Promise<WorkerResponse> {
  if (!session || session.runId !== request.runId) {
    const now = session ? `the run in progress is ${session.runId}` : 'no run is in progress';
    throw new NoSuchRunError(`${request.kind}: there is no training run ${request.runId} in this worker (${now}); runId is the id of the run's train-start request`);
  }
  switch (request.kind) {
    case 'train-pause':
      return { id: request.id, kind: 'train-pause-result', ...(await session.pause()) };
    case 'train-resume':
      return { id: request.id, kind: 'train-resume-result', ...session.resume() };
    case 'train-stop':
      return { id: request.id, kind: 'train-stop-result', ...session.stop() };
  }
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
    case 'train-start':
      return startTraining(request);
    case 'train-pause':
    case 'train-resume':
    case 'train-stop':
      return controlTraining(request);
    default: {
      const unknown: never = request;
      throw new TypeError(`Unhandled worker request ${JSON.stringify(unknown)}`);
    }
  }
}

function post(message: WorkerMessage): void {
  // The adapter's files move to the page instead of being copied.
  const transfer = message.kind === 'train-start-result' ? Object.values(message.adapterFiles).map((b) => b.buffer as ArrayBuffer) : [];
  scope.postMessage(message, transfer);
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
