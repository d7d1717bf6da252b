/**
 * The Training panel: start / pause / resume / stop a run in the worker, its live loss chart and numbers (the first
 * step's shader compiles included), the run's log, its errors, and the offer to continue an interrupted run from its
 * checkpoint.
 */
import { useEffect, useRef } from 'react';
import { formatBytes } from '../format';
import { useT } from '../i18n';
import { useFieldText } from '../i18n/field-text';
import { useStudio } from '../store';
import { useAdapter } from '../stores/adapter';
import { RUN_FIELDS } from '../../options/run-fields';
import { useData } from '../stores/data';
import { trainingFieldsError, useMethod } from '../stores/method';
import { useModel } from '../stores/model';
import type { RunRecord } from '../runs/run-record';
import { useTraining, type CompileProgress, type RunState, type TrainingState } from '../stores/training';
import { describeSavedModel, formatDuration, gpuMemoryBytes, sameModel } from '../stores/training-helpers';
import { LossChart } from './LossChart';
import './training.css';

export const STATUS_CLASS: Record<RunState, string> = {
  idle: 'status-idle',
  starting: 'status-busy',
  running: 'status-busy',
  paused: 'status-idle',
  stopping: 'status-busy',
  done: 'status-ok',
  error: 'status-bad',
};

export function StatusPill({ state, reason, testId = 'train-status' }: { state: RunState; reason: TrainingState['reason']; testId?: string }) {
  const t = useT('training');
  const text = state === 'done' && reason ? t.reason(reason) : t.state(state);
  return (
    <span className={`status ${STATUS_CLASS[state]}`} data-testid={testId} data-state={state}>
      {text}
    </span>
  );
}

export function lossText(x: number | null | undefined): string {
  return x === undefined || x === null ? '—' : Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** "Compiling shaders: 12 of 41 pipelines (9.5 s)" while the first step compiles. */
export function CompileNote({ compile, testId = 'train-compiling' }: { compile: CompileProgress; testId?: string }) {
  const t = useT('training');
  return (
    <p className="note-info" data-testid={testId} data-used={compile.used} data-expected={compile.expected ?? undefined} aria-live="polite">
      {compile.expected !== null && compile.used <= compile.expected
        ? t.compilingOf(compile.used, compile.expected, compile.seconds)
        : t.compilingSoFar(compile.used, compile.seconds)}
    </p>
  );
}

/** Time left as the panel and the status bar show it. */
export function useEtaText(): string {
  const t = useT('training');
  const { state, etaSeconds, compile } = useTraining();
  if (state === 'running' || state === 'starting') {
    if (etaSeconds !== null) return formatDuration(etaSeconds);
    return compile ? t.etaCompiling : t.etaEstimating;
  }
  return state === 'paused' ? t.state('paused') : state === 'done' ? formatDuration(0) : '—';
}

function Numbers() {
  const t = useT('training');
  const tr = useTraining();
  const eta = useEtaText();
  const first = tr.steps[0];
  const last = tr.steps.at(-1);
  const lastVal = tr.steps.findLast((s) => s.val_loss !== null);
  const memory =
    tr.weightBytes === null
      ? null
      : { weightBytes: tr.weightBytes, activationBytes: tr.activationBytes, trainableParams: tr.trainableParams ?? 0 };
  return (
    <dl className="facts train-facts">
      <dt>{t.step}</dt>
      <dd data-testid="train-step" data-step={tr.step} data-total={tr.totalSteps}>
        {tr.totalSteps > 0 ? `${tr.step} / ${tr.totalSteps}` : '—'}
      </dd>
      <dt>{t.firstLoss}</dt>
      <dd data-testid="train-loss-first" data-value={first ? String(first.loss) : undefined}>
        {lossText(first?.loss)}
      </dd>
      <dt>{t.latestLoss}</dt>
      <dd data-testid="train-loss-last" data-value={last ? String(last.loss) : undefined}>
        {lossText(last?.loss)}
        {lastVal && (
          <span className="muted" data-testid="train-val-loss" data-value={String(lastVal.val_loss)}>
            {' '}
            {t.validationAt(lossText(lastVal.val_loss), lastVal.step)}
          </span>
        )}
      </dd>
      <dt>{t.tokensPerS}</dt>
      <dd data-testid="train-tokens-per-s" data-value={tr.tokensPerS ?? undefined}>
        {tr.tokensPerS === null ? '—' : Math.round(tr.tokensPerS).toLocaleString('en-US')}
      </dd>
      <dt>{t.learningRate}</dt>
      <dd data-testid="train-lr">{tr.lr === null ? '—' : tr.lr.toExponential(2)}</dd>
      <dt>{t.timeLeft}</dt>
      <dd data-testid="train-eta">{eta}</dd>
      <dt>{t.gpuMemory}</dt>
      <dd data-testid="train-memory" data-bytes={memory ? gpuMemoryBytes(memory) : undefined}>
        {memory ? (
          <>
            {formatBytes(gpuMemoryBytes(memory))}{' '}
            <span className="muted">{t.memoryParts(formatBytes(memory.weightBytes), formatBytes(memory.activationBytes), formatBytes(16 * memory.trainableParams))}</span>
          </>
        ) : (
          '—'
        )}
      </dd>
    </dl>
  );
}

function ResumeOffer({ saved }: { saved: RunRecord }) {
  const t = useT('training');
  const { reloadBeforeResume, resumeWaiting, resumeRun, cancelResume, dismissResumeOffer } = useTraining();
  const status = useModel((s) => s.status);
  const want = describeSavedModel(saved.model);
  const otherModel = status.state === 'ready' && !sameModel(saved.model, status.spec, status.info);
  const started = new Date(saved.startedAt);
  return (
    <div className="train-resume-offer" data-testid="train-resume-offer" role="group" aria-label={t.offerLabel}>
      <p>{t.offerText(reloadBeforeResume, saved.name, want, Number.isNaN(started.getTime()) ? null : started.toLocaleString(), saved.checkpointStep)}</p>
      {otherModel && !resumeWaiting && (
        <p className="hint" data-testid="train-resume-model">
          {t.offerLoadFirst(want, status.info.nameOrPath)}
        </p>
      )}
      {reloadBeforeResume && <p className="hint">{t.offerReloads}</p>}
      <div className="row">
        <button type="button" data-testid="train-resume-last" disabled={resumeWaiting !== null} onClick={() => void resumeRun()}>
          {t.offerResume}
        </button>
        {resumeWaiting === null ? (
          <button type="button" className="secondary" data-testid="train-resume-dismiss" onClick={dismissResumeOffer}>
            {t.dismiss}
          </button>
        ) : (
          <button type="button" className="secondary" data-testid="train-resume-cancel" onClick={cancelResume}>
            {t.cancel}
          </button>
        )}
      </div>
      {resumeWaiting && (
        <p className="hint" data-testid="train-resume-waiting" aria-live="polite">
          {resumeWaiting}
        </p>
      )}
    </div>
  );
}

function Log({ lines }: { lines: readonly string[] }) {
  const t = useT('training');
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <pre
      ref={ref}
      className="train-log"
      data-testid="train-log"
      role="log"
      tabIndex={0}
      aria-label={t.logLabel}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
      }}
    >
      {lines.length > 0 ? lines.join('\n') : t.noRunYet}
    </pre>
  );
}

/** Start / Pause-or-Resume / Stop: in the panel and in the status bar that every step shows. */
export function RunControls({ compact = false }: { compact?: boolean }) {
  const t = useT('training');
  const tr = useTraining();
  const prefix = compact ? 'bar-' : 'train-';
  return (
    <>
      {/* One button that pauses a running run and resumes a paused one: never a second Resume next to the offer. */}
      {tr.state === 'paused' ? (
        <button type="button" className="secondary" data-testid={`${prefix}resume`} disabled={tr.control !== null} onClick={() => void tr.resume()}>
          {t.resume}
        </button>
      ) : (
        <button
          type="button"
          className="secondary"
          data-testid={`${prefix}pause`}
          disabled={tr.state !== 'running' || tr.control !== null}
          onClick={() => void tr.pause()}
        >
          {tr.control === 'pause' ? t.pausing : t.pause}
        </button>
      )}
      <button
        type="button"
        className="secondary"
        data-testid={`${prefix}stop`}
        disabled={!(tr.state === 'starting' || tr.state === 'running' || tr.state === 'paused') || tr.control === 'stop'}
        onClick={() => void tr.stop()}
      >
        {t.stop}
      </button>
    </>
  );
}

/** Why Start is disabled, or null. */
export function useStartBlocker(): string | null {
  const t = useT('training');
  const state = useTraining((s) => s.state);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const hasData = useData((s) => s.spec !== null);
  const badRecords = useData((s) => (s.status.state === 'ready' && !s.skipBadRecords ? s.status.preview.problems.length : 0));
  const skipLabel = useFieldText().label(RUN_FIELDS.skipBadRecords);
  if (state === 'starting' || state === 'running' || state === 'paused' || state === 'stopping') return null;
  if (!modelReady) return t.whyNoModel;
  if (!hasData) return t.whyNoData;
  if (badRecords > 0) return t.whyBadRecords(badRecords, skipLabel);
  return null;
}

export function TrainingPanel() {
  const t = useT('training');
  const tr = useTraining();
  const workerAdapter = useStudio((s) => (s.worker.state === 'ready' ? s.worker.report : null));
  const adapter = useAdapter((s) => s.adapter);
  const methodError = trainingFieldsError(useMethod());
  const busy = tr.state === 'starting' || tr.state === 'running' || tr.state === 'paused' || tr.state === 'stopping';
  const why = useStartBlocker();
  const canStart = !busy && why === null;
  return (
    <section className="card panel" data-testid="panel-training" aria-labelledby="training-title">
      <header className="card-header">
        <h2 id="training-title">{t.title}</h2>
        <StatusPill state={tr.state} reason={tr.reason} />
      </header>
      {workerAdapter?.isFallbackAdapter && (
        <p className="note-warn" data-testid="train-fallback-note">
          {t.fallbackNote(workerAdapter.description || workerAdapter.architecture || t.fallbackAdapter)}
        </p>
      )}
      {tr.resumeOffer && !busy && <ResumeOffer saved={tr.resumeOffer} />}
      <div className="row train-controls">
        <button type="button" data-testid="train-start" disabled={!canStart} onClick={() => void tr.start()}>
          {tr.state === 'done' || tr.state === 'error' ? t.startNew : t.start}
        </button>
        <RunControls />
        {adapter && (
          <label className="check">
            <input
              type="checkbox"
              data-testid="train-from-adapter"
              checked={tr.fromCurrentAdapter}
              disabled={busy}
              onChange={(e) => tr.setFromCurrentAdapter(e.target.checked)}
            />
            {t.fromAdapter(adapter.origin, adapter.label)}
          </label>
        )}
      </div>
      {why && (
        <p className="muted" data-testid="train-start-why">
          {why}
        </p>
      )}
      {methodError && !busy && <p className="hint">{t.methodInvalid(methodError)}</p>}
      {tr.error && (
        <p className="error" role="alert" data-testid="train-error" data-name={tr.error.name}>
          {tr.error.name && tr.error.name !== 'Error' ? `${tr.error.name}: ` : ''}
          {tr.error.message}
        </p>
      )}
      {tr.compile && <CompileNote compile={tr.compile} />}
      <LossChart steps={tr.steps} totalSteps={tr.totalSteps} />
      <Numbers />
      <h3>{t.log}</h3>
      <Log lines={tr.log} />
    </section>
  );
}
