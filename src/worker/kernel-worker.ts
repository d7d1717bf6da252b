/**
 * The kernel Web Worker: owns its own WebGPU device and answers the requests of `protocol.ts`.
 * Every handler is wrapped, so each request gets exactly one answer: its result or an `error` response.
 * A `train-start` streams `train-log` and `train-progress` messages before its answer; one run at a time.
 */
import { acquireGpu, browserGpu, type GpuContext } from '../gpu/device';
import { destroyQuietly } from '../gpu/errors';
import {
  errorResponse,
  parseRequest,
  type AdapterExportRequest,
  type AdapterImportRequest,
  type GenerateRequest,
  type MergedExportRequest,
  type OnnxExportRequest,
  type ModelLoadRequest,
  type TrainControlRequest,
  type TrainStartRequest,
  type WorkerMessage,
  type WorkerRequest,
  type WorkerResponse,
} from './protocol';
import { runLoraSelfTest } from './lora-selftest';
import { previewDataset } from './data-preview';
import { loadBase, type LoadedBase } from './loaded-model';
import { NoModelError, NoSuchRunError, TrainingBusyError, TrainSession } from './train-session';
import { describeAdapter, exportHeldAdapter, transferableFiles, type HeldAdapter } from './held-adapter';
import { resolveModelSpec } from './model-spec';
import { exportMergedModel } from '../deploy/merged-model';
import { generate } from '../engine/generate';
import { deployedExport, deployedModel, dropDeployed } from './deployed-model';
import { loadAdapterFiles } from '../methods/runtimes';
import { BrowserFilesSource } from '../model-io/model-source';
import { readAdapterFiles } from '../peft/adapter-files';
import { settleKernelProfile } from '../kernels/kernel-profile';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

let gpuPromise: Promise<GpuContext> | null = null;

/** The worker's device, acquired on first use and re-acquired after a loss or a failed attempt. */
function getGpu(): Promise<GpuContext> {
  if (!gpuPromise) {
    // An adapter that does not name itself (Chromium's compatibility adapter) gets its kernels measured.
    const attempt = acquireGpu(browserGpu()).then(async (ctx) => {
      await settleKernelProfile(ctx);
      return ctx;
    });
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

/** The model loaded by `model-load`. */
let base: LoadedBase | null = null;
/** The adapter on it: the last one trained on it, or imported. */
let adapter: HeldAdapter | null = null;

function dropAdapter(): void {
  dropDeployed();
  const held = adapter;
  if (held) destroyQuietly(() => held.adapter.destroy());
  adapter = null;
}

function requireBase(what: string): LoadedBase {
  if (!base) throw new NoModelError(`${what} needs a model: load one first (model-load)`);
  return base;
}

function requireAdapter(what: string): HeldAdapter {
  if (!adapter) throw new NoModelError(`${what} needs an adapter: train one on the loaded model, or import one (adapter-import)`);
  return adapter;
}

function assertNotTraining(what: string): void {
  if (session && !session.finished) throw new TrainingBusyError(`${what} cannot run while training run ${session.runId} is in progress; pause or stop it first`);
}

async function generateRequest(request: GenerateRequest): Promise<WorkerResponse> {
  const b = requireBase('generate');
  if (session && !session.finished && !session.paused) {
    throw new TrainingBusyError(`generate cannot run while training run ${session.runId} is stepping; pause it first`);
  }
  const held = request.side === 'base' ? null : requireAdapter(`generate with side '${request.side}'`);
  const promptIds = b.tokenizer.encode(request.prompt);
  const tokens: number[] = [];
  let sent = '';
  const opts = {
    ...request.sampling,
    maxNewTokens: request.maxNewTokens,
    seed: request.seed,
    onToken: (t: number) => {
      tokens.push(t);
      const text = b.tokenizer.decode(tokens, { skipSpecialTokens: true });
      if (!text.endsWith('\uFFFD') && text !== sent) {
        sent = text;
        post({ id: request.id, kind: 'generate-token', text, tokens: tokens.length });
      }
    },
  };
  let runtime: string | undefined;
  let result;
  if (request.side === 'deployed') {
    const lm = await deployedModel(b, held!, progressPoster(request.id));
    runtime = lm.runtime;
    result = await lm.generate(promptIds, opts);
  } else {
    result = await generate(b.gpu, b.model, held?.adapter ?? null, promptIds, opts);
  }
  const text = b.tokenizer.decode(result.tokens, { skipSpecialTokens: true });
  return { id: request.id, kind: 'generate-result', text, tokens: result.tokens, stopReason: result.stopReason, ...(runtime ? { runtime } : {}) };
}

async function importAdapterRequest(request: AdapterImportRequest): Promise<WorkerResponse> {
  const b = requireBase('adapter-import');
  assertNotTraining('adapter-import');
  const files = await readAdapterFiles(new BrowserFilesSource(request.files));
  const imported = loadAdapterFiles(b, files);
  dropAdapter();
  adapter = { adapter: imported, origin: 'imported' };
  return { id: request.id, kind: 'adapter-import-result', adapter: describeAdapter(adapter) };
}

async function exportAdapterRequest(request: AdapterExportRequest): Promise<WorkerResponse> {
  requireBase('adapter-export');
  const held = requireAdapter('adapter-export');
  return { id: request.id, kind: 'adapter-export-result', files: await exportHeldAdapter(held), adapter: describeAdapter(held) };
}

/** The loaded model with the current adapter merged in, its weights read again from the model's source. */
async function mergedExportRequest(request: MergedExportRequest): Promise<WorkerResponse> {
  const b = requireBase('merged-export');
  const held = requireAdapter('merged-export');
  const adapterFiles = await held.adapter.exportFiles();
  const { source } = await resolveModelSpec(b.spec, (message) => post({ id: request.id, kind: 'model-progress', message }));
  const merged = await exportMergedModel(source, adapterFiles, { dtype: request.dtype, onProgress: progressPoster(request.id) });
  return { id: request.id, kind: 'merged-export-result', files: transferableFiles(merged.files), warnings: merged.warnings };
}

/** Posts a request's progress as `model-progress` messages. */
function progressPoster(id: number): (p: { message: string; file?: string; loaded?: number; total?: number | null }) => void {
  return (p) => post({ id, kind: 'model-progress', message: p.message, file: p.file, loaded: p.loaded, total: p.total });
}

/** The current adapter merged and exported as ONNX for transformers.js (kept for Compare's deployed column). */
async function onnxExportRequest(request: OnnxExportRequest): Promise<WorkerResponse> {
  const b = requireBase('onnx-export');
  const held = requireAdapter('onnx-export');
  const exported = await deployedExport(b, held, request.quants, progressPoster(request.id));
  return { id: request.id, kind: 'onnx-export-result', files: transferableFiles(exported.files), warnings: exported.warnings };
}

async function loadModelRequest(request: ModelLoadRequest): Promise<WorkerResponse> {
  if (session && !session.finished) {
    throw new TrainingBusyError(`cannot load a model while training run ${session.runId} is in progress; stop it first`);
  }
  const gpu = await getGpu();
  // The previous model goes first: the device may not hold two, and a failed load leaves none.
  dropAdapter();
  const old = base;
  if (old) destroyQuietly(() => old.model.destroy());
  base = null;
  const loaded = await loadBase(gpu, request.model, request.quant, (p) =>
    post({ id: request.id, kind: 'model-progress', message: p.message, file: p.file, loaded: p.loaded, total: p.total }),
  );
  base = loaded;
  // A lost device takes the model and its adapter with it: requests then ask for a new load.
  void gpu.lost.then(() => {
    if (base === loaded) {
      base = null;
      adapter = null;
    }
  });
  return { id: request.id, kind: 'model-load-result', info: base.info };
}

async function startTraining(request: TrainStartRequest): Promise<WorkerResponse> {
  if (session && !session.finished) {
    throw new TrainingBusyError(
      `a training run (train-start request ${session.runId}) is already running in this worker; stop it (train-stop with runId ${session.runId}) or wait for its result before starting another`,
    );
  }
  const own = new TrainSession(request, post, {
    base,
    adapter,
    keepAdapter(trained) {
      if (adapter && adapter.adapter !== trained.adapter) dropAdapter();
      adapter = trained;
    },
  });
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
    case 'model-load':
      return loadModelRequest(request);
    case 'data-preview':
      if (!base) throw new NoModelError('data-preview needs a model: load one first (model-load)');
      return previewDataset(request, base.tokenizer);
    case 'train-start':
      return startTraining(request);
    case 'generate':
      return generateRequest(request);
    case 'adapter-import':
      return importAdapterRequest(request);
    case 'adapter-export':
      return exportAdapterRequest(request);
    case 'merged-export':
      return mergedExportRequest(request);
    case 'onnx-export':
      return onnxExportRequest(request);
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
  const files =
    message.kind === 'train-start-result'
      ? message.adapterFiles
      : message.kind === 'adapter-export-result' || message.kind === 'merged-export-result' || message.kind === 'onnx-export-result'
        ? message.files
        : null;
  const transfer = files ? Object.values(files).map((b) => b.buffer as ArrayBuffer) : [];
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
