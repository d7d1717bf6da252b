/**
 * The Training panel's state: one run in the kernel worker (train-start on the loaded model, streamed progress,
 * pause / resume / stop), its step log, the first step's shader compiles, throughput, ETA and GPU-memory estimate,
 * and a log of what happened.
 *
 * Every run is kept (stores/runs.ts, in OPFS) under a name of its own, so that a new run never deletes an old one, and
 * after a page reload (or a lost GPU device) an interrupted run can continue from its latest checkpoint.
 */
import { adapterSummary } from '../format';
import { create } from 'zustand';
import type { StepLog, TrainerEvent } from '../../trainer/trainer';
import type { AdapterInfo, ModelInfo, RequestBody, TrainControlResult, TrainMethodSpec, TrainProgressMessage, TrainLogMessage } from '../../worker/protocol';
import { tr } from '../i18n';
import {
  defaultRunName,
  MAX_KEPT_DATA_BYTES,
  MAX_KEPT_LOG_LINES,
  newRunId,
  RUN_RECORD_VERSION,
  stepsToCheckpoint,
  type RunRecord,
} from '../runs/run-record';
import { useAdapter } from './adapter';
import { useData } from './data';
import { methodFields, methodSpec, trainableSummary, trainingSettings, useMethod } from './method';
import { useModel } from './model';
import { useRuns } from './runs';
import { expectedPipelines, rememberPipelines, stepSignature } from './step-pipelines';
import { describeSavedModel, estimateEtaSeconds, parseTrainableParams, sameModel, savedModelOf, timedSeconds } from './training-helpers';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

// ------------------------------------------------------------------------------------------------- store

export type RunState = 'idle' | 'starting' | 'running' | 'paused' | 'stopping' | 'done' | 'error';

/** The first step's shader compiles: pipelines used so far, the total expected (null: not known yet), seconds. */
export interface CompileProgress {
  step: number;
  used: number;
  compiled: number;
  expected: number | null;
  seconds: number;
}

export interface TrainingState {
  state: RunState;
  /** The id of the run's train-start request (what pause / resume / stop name). */
  runId: number | null;
  /** The kept run (stores/runs.ts) this panel shows: the one in progress or the last one. */
  recordId: string | null;
  /** One entry per optimizer step (val_loss set on evaluation steps). */
  steps: StepLog[];
  step: number;
  totalSteps: number;
  /** Tokens per second of the latest step, its shader compiles taken out. */
  tokensPerS: number | null;
  lr: number | null;
  etaSeconds: number | null;
  /** Shaders compiling in the run's first step; null once it ended. */
  compile: CompileProgress | null;
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
  /** An interrupted run offered for resuming from its checkpoint. */
  resumeOffer: RunRecord | null;
  /** The model must be loaded again before resuming (the device was lost). */
  reloadBeforeResume: boolean;
  /** Waiting for the right model before resuming: what to do, or null. */
  resumeWaiting: string | null;
  setFromCurrentAdapter(on: boolean): void;
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  /** Continues an interrupted run (the offered one by default) from its latest checkpoint. */
  resumeRun(id?: string): Promise<void>;
  /** Stops waiting for the model of the run to resume. */
  cancelResume(): void;
  /** Hides the offer (the run stays in the list, and can be resumed from there). */
  dismissResumeOffer(): void;
  /** Offers the newest interrupted kept run, once the runs are read (at page load). */
  offerInterrupted(): void;
}

const FLUSH_MS = 100;
const MAX_LOG_LINES = 1000;
const MAX_STEP_TIMES = 64;

/** What the store does not re-render for: the in-flight run's buffers. */
interface RunContext {
  token: number;
  recordId: string;
  runId: number | null;
  steps: StepLog[];
  /** Durations of the steps, their shader compiles taken out. */
  stepSeconds: number[];
  pendingLog: string[];
  /** Lines for the kept run's log, written with its next save. */
  recordLog: string[];
  /** The last log line was file-download progress (replaced by the next one). */
  progressLine: boolean;
  totalSteps: number;
  activationBytes: number;
  seedSteps: StepLog[];
  flushTimer: ReturnType<typeof setTimeout> | null;
  dirty: boolean;
  /** Where the pipelines of the first step are remembered, and how many are expected. */
  signature: string;
  /** performance.now() when the current session of the run started training, and the seconds before it. */
  segmentStart: number | null;
  trainSecondsBefore: number;
}

let runToken = 0;
let ctx: RunContext | null = null;
let cancelWaiting: (() => void) | null = null;

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

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
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
  compile: null,
  weightBytes: null,
  activationBytes: 0,
  trainableParams: null,
  error: null,
  reason: null,
  control: null,
} satisfies Partial<TrainingState>;

function runRecord(id: string): RunRecord | undefined {
  return useRuns.getState().records.find((r) => r.id === id);
}

export const useTraining = create<TrainingState>()((set, get) => {
  function trainSeconds(c: RunContext): number {
    return c.trainSecondsBefore + (c.segmentStart === null ? 0 : (performance.now() - c.segmentStart) / 1000);
  }

  /** Writes the run's progress into its kept record (at once for checkpoints and ends, else batched). */
  function keep(c: RunContext, patch: Partial<RunRecord>, now = false): void {
    const r = runRecord(c.recordId);
    if (!r) return;
    const log = c.recordLog.length > 0 ? [...r.log, ...c.recordLog].slice(-MAX_KEPT_LOG_LINES) : r.log;
    c.recordLog = [];
    void useRuns.getState().patch(c.recordId, { steps: c.steps.slice(), trainSeconds: trainSeconds(c), log, ...patch }, now);
  }

  function appendLog(lines: string[]): void {
    if (lines.length === 0) return;
    // Lines still buffered by the run come first.
    if (ctx && ctx.pendingLog.length > 0) flush(ctx);
    if (ctx) ctx.recordLog.push(...lines);
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
      patch.lr = last.lr;
      patch.etaSeconds = state === 'paused' ? null : estimateEtaSeconds(c.stepSeconds, last.step, c.totalSteps);
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
    if (!progress) c.recordLog.push(line);
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
    const t = tr('training');
    switch (e.kind) {
      case 'started': {
        c.totalSteps = e.totalSteps;
        if (e.resumedFromStep !== null) c.steps = c.seedSteps.filter((s) => s.step <= e.resumedFromStep!);
        c.segmentStart = performance.now();
        c.dirty = true;
        flush(c);
        set({
          totalSteps: e.totalSteps,
          step: e.resumedFromStep ?? 0,
          ...(get().state === 'starting' ? { state: 'running' as const } : {}),
        });
        appendLog([e.resumedFromStep === null ? t.logStarted(e.totalSteps) : t.logResumedAt(e.resumedFromStep, e.totalSteps)]);
        keep(c, { totalSteps: e.totalSteps, stepsPerEpoch: e.stepsPerEpoch, status: 'running' }, true);
        break;
      }
      case 'compiling':
        set({ compile: { step: e.step, used: e.used, compiled: e.compiled, expected: expectedPipelines(c.signature), seconds: e.seconds } });
        break;
      case 'step': {
        c.steps.push(e.log);
        c.totalSteps = e.totalSteps;
        c.activationBytes = Math.max(c.activationBytes, e.activationBytes);
        const seconds = timedSeconds(e.timing);
        c.stepSeconds.push(seconds);
        if (c.stepSeconds.length > MAX_STEP_TIMES) c.stepSeconds.splice(0, c.stepSeconds.length - MAX_STEP_TIMES);
        if (e.timing.pipelines !== null) {
          rememberPipelines(c.signature, e.timing.pipelines);
          if (e.timing.compileSeconds > 0) {
            logLine(c, t.logCompiled(e.log.step, e.timing.pipelines, e.timing.compileSeconds, e.timing.seconds));
          }
        }
        set({ tokensPerS: e.timing.tokens / seconds, compile: null, ...(get().state === 'starting' ? { state: 'running' as const } : {}) });
        scheduleFlush(c);
        keep(c, {});
        break;
      }
      case 'eval':
        logLine(c, t.logValidation(e.step, fmtLoss(e.valLoss)));
        break;
      case 'checkpoint':
        logLine(c, t.logCheckpoint(e.step, e.where));
        keep(c, { checkpointStep: e.step }, true);
        break;
      case 'done':
        logLine(c, t.logLoopEnded(e.step, e.reason));
        break;
    }
  }

  /** Sends train-start and follows the run to its end. */
  async function run(request: RequestBody<'train-start'>, info: ModelInfo, trainableParams: number | null, record: RunRecord, seedSteps: StepLog[]): Promise<void> {
    const t = tr('training');
    const token = ++runToken;
    if (ctx?.flushTimer) clearTimeout(ctx.flushTimer);
    const c: RunContext = {
      token,
      recordId: record.id,
      runId: null,
      steps: [],
      stepSeconds: [],
      pendingLog: [],
      recordLog: [],
      progressLine: false,
      totalSteps: 0,
      activationBytes: 0,
      seedSteps,
      flushTimer: null,
      dirty: false,
      signature: stepSignature(record.model, record.peftMethod, record.settings),
      segmentStart: null,
      trainSecondsBefore: record.trainSeconds,
    };
    ctx = c;
    const first = request.resume ? t.logResuming(record.name, info.nameOrPath, info.format) : t.logStarting(record.name, info.nameOrPath, info.format);
    c.recordLog.push(first);
    set({
      ...NO_RUN,
      state: 'starting',
      recordId: record.id,
      steps: seedSteps,
      weightBytes: info.weightBytes[info.format],
      trainableParams,
      resumeOffer: null,
      reloadBeforeResume: false,
      resumeWaiting: null,
      log: [first + (request.fromCurrentAdapter ? t.logFromCurrentAdapter : '')],
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
      c.steps = result.log.slice();
      set({
        state: 'done',
        reason: result.reason,
        steps: result.log,
        step: result.step,
        totalSteps: result.totalSteps,
        etaSeconds: null,
        compile: null,
        control: null,
        ...(last ? { lr: last.lr } : {}),
      });
      appendLog([
        t.logEnded(result.reason, result.step, result.totalSteps, last ? fmtLoss(last.loss) : null) +
          (result.adapter ? t.logAdapterReady(adapterSummary(result.adapter, ['r', 'modules adapted', 'num_virtual_tokens'])) : ''),
      ]);
      keep(c, { status: result.reason, endedAt: new Date().toISOString(), totalSteps: result.totalSteps, comparison: result.comparison }, true);
      c.segmentStart = null;
      await useRuns.getState().saveAdapter(c.recordId, result.adapterFiles);
    } catch (error) {
      if (c.token !== runToken) return;
      flush(c);
      const e = toErrorInfo(error);
      const deviceLost = e.name === 'DeviceLostError';
      // A lost device or a crashed worker can be resumed from the checkpoint; a bad value or bad data cannot.
      const resumable = deviceLost || e.name === 'WorkerError';
      appendLog([t.logError(e.name, e.message)]);
      if (e.name === 'WorkerError') appendLog([t.logReloadToContinue]);
      keep(c, { status: resumable ? 'interrupted' : 'failed', endedAt: resumable ? null : new Date().toISOString(), error: { name: e.name, message: e.message } }, true);
      c.segmentStart = null;
      set({
        state: 'error',
        error: e,
        etaSeconds: null,
        compile: null,
        control: null,
        resumeOffer: deviceLost ? (runRecord(c.recordId) ?? null) : null,
        reloadBeforeResume: deviceLost,
      });
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
    if (ctx && next === 'paused') {
      // Wall time across a pause is not training time.
      ctx.trainSecondsBefore = trainSeconds(ctx);
      ctx.segmentStart = null;
    }
    if (ctx && next === 'running' && ctx.segmentStart === null) ctx.segmentStart = performance.now();
    set({ control: null, ...(next ? { state: next } : {}), ...(next === 'paused' ? { etaSeconds: null } : {}) });
    appendLog([tr('training').logControl(asked, result.state, result.step)]);
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
      appendLog([tr('training').logControlFailed(kind, e.name, e.message)]);
    }
  }

  /** Resolves with the loaded model once it is the run's model; null when cancelled. */
  function waitForModel(saved: RunRecord): Promise<ModelReady | null> {
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
        const t = tr('training');
        const s = useModel.getState().status;
        if (s.state === 'ready') {
          if (sameModel(saved.model, s.spec, s.info)) return finish(s);
          set({ resumeWaiting: t.waitOtherModel(want, s.info.nameOrPath) });
        } else if (s.state === 'error') {
          set({ resumeWaiting: t.waitModelFailed(s.error.message, want) });
        } else {
          set({ resumeWaiting: t.waitLoading(want) });
        }
      };
      cancelWaiting = () => finish(null);
      check();
      if (!settled) unsubscribe = useModel.subscribe(check);
    });
  }

  return {
    ...NO_RUN,
    recordId: null,
    log: [],
    fromCurrentAdapter: false,
    resumeOffer: null,
    reloadBeforeResume: false,
    resumeWaiting: null,

    setFromCurrentAdapter(on) {
      set({ fromCurrentAdapter: on });
    },

    offerInterrupted() {
      if (isBusy(get().state) || get().resumeOffer || get().recordId !== null) return;
      const offer = useRuns.getState().records.find((r) => r.status === 'interrupted');
      if (!offer) return;
      // Its history up to the checkpoint is on the chart before it is resumed.
      set({ resumeOffer: offer, recordId: offer.id, steps: stepsToCheckpoint(offer), totalSteps: offer.totalSteps });
    },

    async start() {
      if (isBusy(get().state)) return;
      get().cancelResume();
      const t = tr('training');
      const status = useModel.getState().status;
      const data = useData.getState();
      const fail = (message: string) => set({ state: 'error', error: { name: 'Error', message }, log: [...get().log, t.logError('Error', message)] });
      if (status.state !== 'ready') return fail(t.needModel);
      if (!data.spec) return fail(t.needData);
      const info = status.info;
      const methodState = useMethod.getState();
      const method = methodFields(methodState);
      const adapter = useAdapter.getState().adapter;
      const fromCurrent = get().fromCurrentAdapter && adapter !== null;
      const peftMethod: TrainMethodSpec = fromCurrent ? methodOfAdapter(adapter) : methodSpec(methodState);
      const settings = trainingSettings(method);
      const bytes = utf8Bytes(data.spec.text);
      const model = savedModelOf(status.spec, info);
      const now = new Date();
      const record: RunRecord = {
        version: RUN_RECORD_VERSION,
        id: newRunId(model, peftMethod, now),
        name: defaultRunName(model, peftMethod, now),
        status: 'running',
        startedAt: now.toISOString(),
        endedAt: null,
        trainSeconds: 0,
        model,
        method,
        peftMethod,
        settings,
        maxLength: data.maxLength,
        valSplit: method.valSplit,
        skipBadRecords: data.skipBadRecords,
        data: {
          spec: bytes < MAX_KEPT_DATA_BYTES ? { ...data.spec } : null,
          sourceKind: data.sourceKind,
          sampleName: data.sampleName,
          ...(data.spec.fileName !== undefined ? { fileName: data.spec.fileName } : {}),
          bytes,
        },
        fromCurrentAdapter: fromCurrent,
        totalSteps: settings.maxSteps ?? 0,
        stepsPerEpoch: null,
        steps: [],
        checkpointStep: null,
        log: [],
        error: null,
        hasAdapter: false,
      };
      await useRuns.getState().put(record);
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
          runName: record.id,
          resume: false,
          ...(fromCurrent ? { fromCurrentAdapter: true } : {}),
        },
        info,
        trainable,
        record,
        [],
      );
    },

    pause: () => control('pause', ['running']),
    resume: () => control('resume', ['paused']),
    stop: () => control('stop', ['starting', 'running', 'paused']),

    async resumeRun(id) {
      const saved = id === undefined ? get().resumeOffer : runRecord(id);
      if (!saved || saved.status !== 'interrupted' || isBusy(get().state) || get().resumeWaiting !== null) return;
      const t = tr('training');
      set({ resumeOffer: saved, error: null, state: get().state === 'error' ? 'idle' : get().state, resumeWaiting: t.waitPreparing });
      if (get().reloadBeforeResume) {
        // The lost device took the worker's model with it.
        set({ reloadBeforeResume: false, log: [...get().log, t.logReloadingModel] });
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
        const name = saved.data.fileName ?? t.pastedText;
        set({ resumeWaiting: null, state: 'error', error: { name: 'Error', message: t.dataTooLarge(name, saved.data.bytes / 1048576) } });
        return;
      }
      // The Data panel shows what the run trains on (tokenized in the worker next to the run).
      if (reanalyze && useData.getState().spec) void useData.getState().analyze();
      if (info.format !== saved.model.format) {
        set({ log: [...get().log, t.logFormatChanged(saved.model.format, info.format)] });
      }
      const record = { ...saved, status: 'running' as const, error: null };
      await useRuns.getState().put(record);
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
          runName: saved.id,
          resume: true,
        },
        info,
        null,
        record,
        saved.steps,
      );
    },

    cancelResume() {
      cancelWaiting?.();
      set({ resumeWaiting: null });
    },

    dismissResumeOffer() {
      get().cancelResume();
      // The history shown for the offer goes with it (a run that is going on keeps its own).
      const chart = get().state === 'idle' ? { steps: [], totalSteps: 0, recordId: null } : {};
      set({ resumeOffer: null, reloadBeforeResume: false, ...chart });
    },
  };
});

// A new model drops the worker's adapter: "start from the current adapter" no longer applies.
useAdapter.subscribe((state) => {
  if (state.adapter === null && useTraining.getState().fromCurrentAdapter) useTraining.getState().setFromCurrentAdapter(false);
});
