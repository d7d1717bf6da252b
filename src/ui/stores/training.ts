/**
 * The Training panel's state: one run in the kernel worker (train-start on the loaded model, streamed progress,
 * pause / resume / stop), its step log, throughput, ETA and GPU-memory estimate, and a log of what happened.
 *
 * The last run's settings are kept in localStorage (`peft-studio:last-run`) with a `finished` flag, so that after a
 * page reload (or a lost GPU device) an unfinished run can continue from its latest OPFS checkpoint.
 */
import { adapterSummary } from '../format';
import { create } from 'zustand';
import type { WeightFormat } from '../../kernels/weight-format';
import { DEFAULT_MODEL } from '../../model-io/embedded';
import type { StepLog, TrainerEvent, TrainingSettings } from '../../trainer/trainer';
import type {
  AdapterInfo,
  ModelInfo,
  RequestBody,
  TrainControlResult,
  TrainDataSpec,
  TrainMethodSpec,
  TrainModelSpec,
  TrainProgressMessage,
  TrainLogMessage,
} from '../../worker/protocol';
import { useAdapter } from './adapter';
import { useData, type DataSourceKind } from './data';
import { methodFields, methodSpec, trainableSummary, trainingSettings, useMethod } from './method';
import { useModel } from './model';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';
import {
  markFinished,
  MAX_SAVED_DATA_BYTES,
  readProgress,
  readSavedRun,
  RUN_NAME,
  utf8Bytes,
  writeProgress,
  writeSavedRun,
  type SavedRun,
} from './saved-run';
import { describeSavedModel, estimateEtaSeconds, parseTrainableParams, sameModel, savedModelOf } from './training-helpers';

// ------------------------------------------------------------------------------------------------- store

export type RunState = 'idle' | 'starting' | 'running' | 'paused' | 'stopping' | 'done' | 'error';

export interface TrainingState {
  state: RunState;
  /** The id of the run's train-start request (what pause / resume / stop name). */
  runId: number | null;
  /** One entry per optimizer step (val_loss set on evaluation steps). */
  steps: StepLog[];
  step: number;
  totalSteps: number;
  tokensPerS: number | null;
  lr: number | null;
  etaSeconds: number | null;
  /** GPU bytes of the frozen weights of the run's model. */
  weightBytes: number | null;
  /** Largest activation memory a step allocated so far. */
  activationBytes: number;
  trainableParams: number | null;
  log: string[];
  error: ErrorInfo | null;
  reason: 'completed' | 'stopped' | null;
  /** A control request in flight. */
  control: 'pause' | 'resume' | 'stop' | null;
  /** Start from the worker's current adapter (when there is one). */
  fromCurrentAdapter: boolean;
  /** An unfinished last run that can continue from its checkpoint. */
  resumeOffer: SavedRun | null;
  /** The checkpoint step the offered run has, when known. */
  resumeCheckpointStep: number | null;
  /** The model must be loaded again before resuming (the device was lost). */
  reloadBeforeResume: boolean;
  /** Waiting for the right model before resuming: what to do, or null. */
  resumeWaiting: string | null;
  setFromCurrentAdapter(on: boolean): void;
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  /** Continues the last unfinished run from its latest checkpoint (resume: true). */
  resumeLastRun(): Promise<void>;
  /** Stops waiting for the model of the run to resume. */
  cancelResume(): void;
  /** Forgets the unfinished last run. */
  dismissResumeOffer(): void;
}

const FLUSH_MS = 100;
const MAX_LOG_LINES = 1000;
const MAX_STEP_TIMES = 64;

/** What the store does not re-render for: the in-flight run's buffers. */
interface RunContext {
  token: number;
  runName: string;
  runId: number | null;
  steps: StepLog[];
  stepTimes: number[];
  pendingLog: string[];
  /** The last log line was file-download progress (replaced by the next one). */
  progressLine: boolean;
  totalSteps: number;
  activationBytes: number;
  seedSteps: StepLog[];
  flushTimer: ReturnType<typeof setTimeout> | null;
  dirty: boolean;
}

let runToken = 0;
let ctx: RunContext | null = null;
let cancelWaiting: (() => void) | null = null;

const initialOffer = (() => {
  const saved = readSavedRun();
  return saved && !saved.finished ? saved : null;
})();

function isBusy(state: RunState): boolean {
  return state === 'starting' || state === 'running' || state === 'paused' || state === 'stopping';
}

/** The method and options that rebuild the worker's current adapter. */
function methodOfAdapter(a: AdapterInfo): TrainMethodSpec {
  return { id: a.method, options: { ...a.options } };
}

function fmtLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

type ModelReady = Extract<ReturnType<typeof useModel.getState>['status'], { state: 'ready' }>;

/** The run fields of a store with no run yet (a new run starts from these too). */
const NO_RUN = {
  state: 'idle' as RunState,
  runId: null,
  steps: [] as StepLog[],
  step: 0,
  totalSteps: 0,
  tokensPerS: null,
  lr: null,
  etaSeconds: null,
  weightBytes: null,
  activationBytes: 0,
  trainableParams: null,
  error: null,
  reason: null,
  control: null,
} satisfies Partial<TrainingState>;

export const useTraining = create<TrainingState>()((set, get) => {
  function appendLog(lines: string[]): void {
    if (lines.length === 0) return;
    // Lines still buffered by the run come first.
    if (ctx && ctx.pendingLog.length > 0) flush(ctx);
    set({ log: [...get().log, ...lines].slice(-MAX_LOG_LINES) });
  }

  function flush(c: RunContext): void {
    if (c.flushTimer !== null) clearTimeout(c.flushTimer);
    c.flushTimer = null;
    if (c.token !== runToken || !c.dirty) return;
    c.dirty = false;
    const last = c.steps.at(-1);
    const state = get().state;
    const patch: Partial<TrainingState> = {
      steps: c.steps.slice(),
      totalSteps: c.totalSteps,
      activationBytes: c.activationBytes,
      log: [...get().log, ...c.pendingLog].slice(-MAX_LOG_LINES),
    };
    c.pendingLog = [];
    if (last) {
      patch.step = last.step;
      patch.tokensPerS = last.tokens_per_s;
      patch.lr = last.lr;
      patch.etaSeconds = state === 'paused' ? null : estimateEtaSeconds(c.stepTimes, last.step, c.totalSteps);
    }
    set(patch);
  }

  function scheduleFlush(c: RunContext): void {
    c.dirty = true;
    if (c.flushTimer === null) c.flushTimer = setTimeout(() => flush(c), FLUSH_MS);
  }

  function logLine(c: RunContext, line: string, progress = false): void {
    if (progress && c.progressLine && c.pendingLog.length > 0) c.pendingLog[c.pendingLog.length - 1] = line;
    else c.pendingLog.push(line);
    c.progressLine = progress;
    scheduleFlush(c);
  }

  function onLog(c: RunContext, m: TrainLogMessage): void {
    if (m.phase === 'adapter') {
      const n = parseTrainableParams(m.message);
      if (n !== null) set({ trainableParams: n });
    }
    const progress = m.loaded !== undefined;
    const bytes = progress ? ` (${(m.loaded! / 1048576).toFixed(1)}${m.total ? ` of ${(m.total / 1048576).toFixed(1)}` : ''} MiB)` : '';
    logLine(c, `[${m.phase}] ${m.message}${bytes}`, progress);
  }

  function onEvent(c: RunContext, e: TrainerEvent): void {
    switch (e.kind) {
      case 'started': {
        c.totalSteps = e.totalSteps;
        if (e.resumedFromStep !== null) c.steps = c.seedSteps.filter((s) => s.step <= e.resumedFromStep!);
        c.dirty = true;
        flush(c);
        set({
          totalSteps: e.totalSteps,
          step: e.resumedFromStep ?? 0,
          ...(get().state === 'starting' ? { state: 'running' as const } : {}),
        });
        appendLog([e.resumedFromStep === null ? `started: ${e.totalSteps} steps` : `resumed at step ${e.resumedFromStep} of ${e.totalSteps}`]);
        break;
      }
      case 'step': {
        c.steps.push(e.log);
        c.totalSteps = e.totalSteps;
        c.activationBytes = Math.max(c.activationBytes, e.activationBytes);
        c.stepTimes.push(performance.now());
        if (c.stepTimes.length > MAX_STEP_TIMES) c.stepTimes.splice(0, c.stepTimes.length - MAX_STEP_TIMES);
        if (get().state === 'starting') set({ state: 'running' });
        scheduleFlush(c);
        break;
      }
      case 'eval':
        logLine(c, `step ${e.step}: validation loss ${fmtLoss(e.valLoss)}`);
        break;
      case 'checkpoint':
        logLine(c, `checkpoint at step ${e.step}: ${e.where}`);
        writeProgress({ runName: c.runName, checkpointStep: e.step, steps: c.steps.filter((s) => s.step <= e.step) });
        break;
      case 'done':
        logLine(c, `loop ended at step ${e.step} (${e.reason})`);
        break;
    }
  }

  /** Sends train-start and follows the run to its end. */
  async function run(request: RequestBody<'train-start'>, info: ModelInfo, trainableParams: number | null, seedSteps: StepLog[]): Promise<void> {
    const token = ++runToken;
    if (ctx?.flushTimer) clearTimeout(ctx.flushTimer);
    const c: RunContext = {
      token,
      runName: request.runName,
      runId: null,
      steps: [],
      stepTimes: [],
      pendingLog: [],
      progressLine: false,
      totalSteps: 0,
      activationBytes: 0,
      seedSteps,
      flushTimer: null,
      dirty: false,
    };
    ctx = c;
    set({
      ...NO_RUN,
      state: 'starting',
      weightBytes: info.weightBytes[info.format],
      trainableParams,
      resumeOffer: null,
      resumeCheckpointStep: null,
      reloadBeforeResume: false,
      resumeWaiting: null,
      log: [
        `${request.resume ? 'resuming' : 'starting'} run "${request.runName}" on ${info.nameOrPath} (W0 in ${info.format})` +
          (request.fromCurrentAdapter ? ', from the current adapter' : ''),
      ],
    });
    try {
      const handle = kernelWorker().stream(request, (m: TrainProgressMessage | TrainLogMessage) => {
        if (c.token !== runToken) return;
        if (m.kind === 'train-log') onLog(c, m);
        else onEvent(c, m.event);
      });
      c.runId = handle.id;
      set({ runId: handle.id });
      const result = await handle;
      if (c.token !== runToken) return;
      flush(c);
      useAdapter.getState().setAdapter(result.adapter);
      const last = result.log.at(-1);
      set({
        state: 'done',
        reason: result.reason,
        steps: result.log,
        step: result.step,
        totalSteps: result.totalSteps,
        etaSeconds: null,
        control: null,
        ...(last ? { tokensPerS: last.tokens_per_s, lr: last.lr } : {}),
      });
      appendLog([
        `${result.reason === 'completed' ? 'completed' : 'stopped'} at step ${result.step} of ${result.totalSteps}` +
          (last ? `, loss ${fmtLoss(last.loss)}` : '') +
          (result.adapter ? `; the adapter, ${adapterSummary(result.adapter, ['r', 'modules adapted', 'num_virtual_tokens'])}, is ready to compare and export` : ''),
      ]);
      markFinished(c.runName);
      writeProgress(null);
    } catch (error) {
      if (c.token !== runToken) return;
      flush(c);
      const e = toErrorInfo(error);
      const deviceLost = e.name === 'DeviceLostError';
      const saved = readSavedRun();
      const offer = deviceLost && saved && !saved.finished ? saved : null;
      set({
        state: 'error',
        error: e,
        etaSeconds: null,
        control: null,
        resumeOffer: offer,
        resumeCheckpointStep: offer ? (readProgress(offer.runName)?.checkpointStep ?? null) : null,
        reloadBeforeResume: deviceLost,
      });
      appendLog([`error: ${e.name}: ${e.message}`]);
      if (e.name === 'WorkerError') appendLog(['reload the page to continue the run from its latest checkpoint']);
      // A lost device or a crashed worker can be resumed from the checkpoint; a bad value or bad data cannot.
      if (!deviceLost && e.name !== 'WorkerError') {
        markFinished(c.runName);
        writeProgress(null);
      }
    } finally {
      if (c.flushTimer !== null) clearTimeout(c.flushTimer);
      if (ctx === c) ctx = null;
    }
  }

  function applyControl(result: TrainControlResult, asked: 'pause' | 'resume' | 'stop'): void {
    const state = get().state;
    if (!isBusy(state)) {
      set({ control: null });
      return;
    }
    const next: RunState | null =
      result.state === 'paused' ? 'paused' : result.state === 'running' ? 'running' : result.state === 'stopping' ? 'stopping' : null;
    if (next === 'paused' || next === 'running') {
      // Wall time across a pause is not step time.
      if (ctx) ctx.stepTimes = [];
    }
    set({ control: null, ...(next ? { state: next } : {}), ...(next === 'paused' ? { etaSeconds: null } : {}) });
    appendLog([`${asked}: ${result.state} after step ${result.step}`]);
  }

  async function control(kind: 'pause' | 'resume' | 'stop', allowed: readonly RunState[]): Promise<void> {
    const { runId, state } = get();
    if (runId === null || !allowed.includes(state) || (get().control !== null && kind !== 'stop')) return;
    const token = runToken;
    set({ control: kind, ...(kind === 'stop' ? { state: 'stopping' as const } : {}) });
    try {
      const result: TrainControlResult = await kernelWorker().request<'train-pause' | 'train-resume' | 'train-stop'>({ kind: `train-${kind}`, runId });
      if (token !== runToken) return;
      applyControl(result, kind);
    } catch (error) {
      if (token !== runToken) return;
      const e = toErrorInfo(error);
      set({ control: null });
      appendLog([`${kind} failed: ${e.name}: ${e.message}`]);
    }
  }

  /** Resolves with the loaded model once it is the saved run's model; null when cancelled. */
  function waitForModel(saved: SavedRun): Promise<ModelReady | null> {
    cancelWaiting?.();
    return new Promise((resolve) => {
      let unsubscribe: (() => void) | null = null;
      let settled = false;
      const finish = (value: ModelReady | null) => {
        if (settled) return;
        settled = true;
        unsubscribe?.();
        cancelWaiting = null;
        resolve(value);
      };
      const want = describeSavedModel(saved.model);
      const check = () => {
        const s = useModel.getState().status;
        if (s.state === 'ready') {
          if (sameModel(saved.model, s.spec, s.info)) return finish(s);
          set({ resumeWaiting: `The last run trained ${want}, but ${s.info.nameOrPath} is loaded. Load ${want} in the Model panel; the run resumes once it is ready.` });
        } else if (s.state === 'error') {
          set({ resumeWaiting: `The model did not load (${s.error.message}). Load ${want} in the Model panel; the run resumes once it is ready.` });
        } else {
          set({ resumeWaiting: `Waiting for ${want} to load…` });
        }
      };
      cancelWaiting = () => finish(null);
      check();
      if (!settled) unsubscribe = useModel.subscribe(check);
    });
  }

  // An unfinished run's chart shows its history up to the checkpoint before it is resumed.
  const initialProgress = initialOffer ? readProgress(initialOffer.runName) : null;
  return {
    ...NO_RUN,
    ...(initialProgress ? { steps: initialProgress.steps, totalSteps: initialOffer?.settings.maxSteps ?? 0 } : {}),
    log: [],
    fromCurrentAdapter: false,
    resumeOffer: initialOffer,
    resumeCheckpointStep: initialProgress?.checkpointStep ?? null,
    reloadBeforeResume: false,
    resumeWaiting: null,

    setFromCurrentAdapter(on) {
      set({ fromCurrentAdapter: on });
    },

    async start() {
      if (isBusy(get().state)) return;
      get().cancelResume();
      const status = useModel.getState().status;
      const data = useData.getState();
      const fail = (message: string) => set({ state: 'error', error: { name: 'Error', message }, log: [...get().log, `error: ${message}`] });
      if (status.state !== 'ready') return fail('Load a model first (Model panel).');
      if (!data.spec) return fail('Choose a dataset first (Data panel).');
      const info = status.info;
      const methodState = useMethod.getState();
      const method = methodFields(methodState);
      const adapter = useAdapter.getState().adapter;
      const fromCurrent = get().fromCurrentAdapter && adapter !== null;
      const peftMethod: TrainMethodSpec = fromCurrent ? methodOfAdapter(adapter) : methodSpec(methodState);
      const settings = trainingSettings(method);
      const bytes = utf8Bytes(data.spec.text);
      const saved: SavedRun = {
        version: 2,
        finished: false,
        runName: RUN_NAME,
        startedAt: new Date().toISOString(),
        model: savedModelOf(status.spec, info),
        method,
        peftMethod,
        settings,
        maxLength: data.maxLength,
        valSplit: method.valSplit,
        skipBadRecords: data.skipBadRecords,
        data: {
          spec: bytes < MAX_SAVED_DATA_BYTES ? { ...data.spec } : null,
          sourceKind: data.sourceKind,
          sampleName: data.sampleName,
          ...(data.spec.fileName !== undefined ? { fileName: data.spec.fileName } : {}),
          bytes,
        },
        fromCurrentAdapter: fromCurrent,
      };
      writeSavedRun(saved);
      writeProgress(null);
      const summary = fromCurrent ? null : trainableSummary(peftMethod, info);
      const trainable = fromCurrent ? adapter.trainableParameters : summary && 'line' in summary ? summary.trainable : null;
      await run(
        {
          kind: 'train-start',
          model: { kind: 'loaded' },
          data: data.spec,
          method: peftMethod,
          settings,
          quant: info.format,
          maxLength: data.maxLength,
          valSplit: method.valSplit,
          skipBadRecords: data.skipBadRecords,
          runName: RUN_NAME,
          resume: false,
          ...(fromCurrent ? { fromCurrentAdapter: true } : {}),
        },
        info,
        trainable,
        [],
      );
    },

    pause: () => control('pause', ['running']),
    resume: () => control('resume', ['paused']),
    stop: () => control('stop', ['starting', 'running', 'paused']),

    async resumeLastRun() {
      const saved = get().resumeOffer ?? readSavedRun();
      if (!saved || saved.finished || isBusy(get().state) || get().resumeWaiting !== null) return;
      set({ error: null, state: get().state === 'error' ? 'idle' : get().state, resumeWaiting: `Preparing to resume the last run…` });
      if (get().reloadBeforeResume) {
        // The lost device took the worker's model with it.
        set({ reloadBeforeResume: false, log: [...get().log, 'loading the model again after the lost device'] });
        await useModel.getState().load();
      }
      if (saved.model.kind === 'hub' && useModel.getState().status.state !== 'ready') {
        // Name the model to load in the Model panel.
        const m = useModel.getState();
        if (m.status.state !== 'loading') {
          m.setSourceKind('hub');
          m.setHub({ hubRepo: saved.model.repo ?? '', hubRevision: saved.model.revision ?? 'main', hubEndpoint: saved.model.endpoint ?? '' });
        }
      }
      const ready = await waitForModel(saved);
      if (!ready) {
        set({ resumeWaiting: null });
        return;
      }
      const info = ready.info;

      // Put the saved settings back (the panel's method too, unless the run continued an adapter of its own).
      useMethod.getState().restore(saved.method, saved.fromCurrentAdapter ? undefined : saved.peftMethod);
      const data = useData.getState();
      let reanalyze = data.maxLength !== saved.maxLength;
      useData.setState({ maxLength: saved.maxLength, skipBadRecords: saved.skipBadRecords });
      let spec = saved.data.spec;
      if (spec) {
        if (data.spec?.text !== spec.text || data.spec?.fileName !== spec.fileName) {
          useData.setState({
            sourceKind: saved.data.sourceKind,
            sampleName: saved.data.sampleName,
            spec,
            ...(saved.data.sourceKind === 'paste' ? { pasted: spec.text } : {}),
          });
          reanalyze = true;
        }
      } else if (data.spec && data.spec.fileName === saved.data.fileName) {
        spec = data.spec;
      } else {
        const name = saved.data.fileName ?? 'pasted text';
        set({
          resumeWaiting: null,
          resumeOffer: saved,
          state: 'error',
          error: {
            name: 'Error',
            message: `The last run's dataset (${name}, ${(saved.data.bytes / 1048576).toFixed(1)} MiB) was too large to keep in the browser; choose it again in the Data panel, then resume.`,
          },
        });
        return;
      }
      // The Data panel shows what the run trains on (tokenized in the worker next to the run).
      if (reanalyze && useData.getState().spec) void useData.getState().analyze();
      if (info.format !== saved.model.format) {
        set({ log: [...get().log, `note: the run started with W0 in ${saved.model.format}; it continues in ${info.format}`] });
      }
      const progress = readProgress(saved.runName);
      writeSavedRun({ ...saved, finished: false });
      await run(
        {
          kind: 'train-start',
          model: { kind: 'loaded' },
          data: spec,
          method: saved.peftMethod,
          settings: saved.settings,
          quant: info.format,
          maxLength: saved.maxLength,
          valSplit: saved.valSplit,
          skipBadRecords: saved.skipBadRecords,
          runName: saved.runName,
          resume: true,
        },
        info,
        null,
        progress?.steps ?? [],
      );
    },

    cancelResume() {
      cancelWaiting?.();
      set({ resumeWaiting: null });
    },

    dismissResumeOffer() {
      get().cancelResume();
      const saved = get().resumeOffer;
      if (saved) markFinished(saved.runName);
      writeProgress(null);
      // The history shown for the offer goes with it (a run that is going on keeps its own).
      const chart = get().state === 'idle' ? { steps: [], totalSteps: 0 } : {};
      set({ resumeOffer: null, resumeCheckpointStep: null, reloadBeforeResume: false, ...chart });
    },
  };
});

// A new model drops the worker's adapter: "start from the current adapter" no longer applies.
useAdapter.subscribe((state) => {
  if (state.adapter === null && useTraining.getState().fromCurrentAdapter) useTraining.getState().setFromCurrentAdapter(false);
});
