/**
 * The Training panel: start / pause / resume / stop a run in the worker, its live loss chart and numbers, the
 * run's log, its errors, and the offer to continue an unfinished run from its checkpoint.
 */
import { useEffect, useRef } from 'react';
import { formatBytes } from '../format';
import { useStudio } from '../store';
import { useAdapter } from '../stores/adapter';
import { RUN_FIELDS } from '../../options/run-fields';
import { useData } from '../stores/data';
import { trainingFieldsError, useMethod } from '../stores/method';
import { useModel } from '../stores/model';
import type { SavedRun } from '../stores/saved-run';
import { useTraining, type RunState, type TrainingState } from '../stores/training';
import { describeSavedModel, formatDuration, gpuMemoryBytes, sameModel } from '../stores/training-helpers';
import { LossChart } from './LossChart';
import './training.css';

const STATUS: Record<RunState, { text: string; className: string }> = {
  idle: { text: 'not started', className: 'status-idle' },
  starting: { text: 'starting…', className: 'status-busy' },
  running: { text: 'training…', className: 'status-busy' },
  paused: { text: 'paused', className: 'status-idle' },
  stopping: { text: 'stopping…', className: 'status-busy' },
  done: { text: 'done', className: 'status-ok' },
  error: { text: 'error', className: 'status-bad' },
};

function StatusPill({ state, reason }: { state: RunState; reason: TrainingState['reason'] }) {
  const s = STATUS[state];
  const text = state === 'done' && reason ? reason : s.text;
  return (
    <span className={`status ${s.className}`} data-testid="train-status" data-state={state}>
      {text}
    </span>
  );
}

function lossText(x: number | undefined): string {
  return x === undefined ? '—' : Number.isFinite(x) ? x.toFixed(4) : String(x);
}

function Numbers() {
  const t = useTraining();
  const first = t.steps[0];
  const last = t.steps.at(-1);
  const lastVal = t.steps.findLast((s) => s.val_loss !== null);
  const memory =
    t.weightBytes === null
      ? null
      : { weightBytes: t.weightBytes, activationBytes: t.activationBytes, trainableParams: t.trainableParams ?? 0 };
  const eta =
    t.state === 'running'
      ? t.etaSeconds === null
        ? 'estimating…'
        : formatDuration(t.etaSeconds)
      : t.state === 'paused'
        ? 'paused'
        : t.state === 'done'
          ? '0 s'
          : '—';
  return (
    <dl className="facts train-facts">
      <dt>Step</dt>
      <dd data-testid="train-step" data-step={t.step} data-total={t.totalSteps}>
        {t.totalSteps > 0 ? `${t.step} / ${t.totalSteps}` : '—'}
      </dd>
      <dt>First loss</dt>
      <dd data-testid="train-loss-first" data-value={first ? String(first.loss) : undefined}>
        {lossText(first?.loss)}
      </dd>
      <dt>Latest loss</dt>
      <dd data-testid="train-loss-last" data-value={last ? String(last.loss) : undefined}>
        {lossText(last?.loss)}
        {lastVal && (
          <span className="muted" data-testid="train-val-loss" data-value={String(lastVal.val_loss)}>
            {' '}
            (validation {lossText(lastVal.val_loss ?? undefined)} at step {lastVal.step})
          </span>
        )}
      </dd>
      <dt>Tokens / s</dt>
      <dd data-testid="train-tokens-per-s">{t.tokensPerS === null ? '—' : Math.round(t.tokensPerS).toLocaleString('en-US')}</dd>
      <dt>Learning rate</dt>
      <dd data-testid="train-lr">{t.lr === null ? '—' : t.lr.toExponential(2)}</dd>
      <dt>Time left</dt>
      <dd data-testid="train-eta">{eta}</dd>
      <dt>GPU memory</dt>
      <dd data-testid="train-memory" data-bytes={memory ? gpuMemoryBytes(memory) : undefined}>
        {memory ? (
          <>
            {formatBytes(gpuMemoryBytes(memory))}{' '}
            <span className="muted">
              (weights {formatBytes(memory.weightBytes)} + activations {formatBytes(memory.activationBytes)} + adapter with gradients and
              AdamW state {formatBytes(16 * memory.trainableParams)})
            </span>
          </>
        ) : (
          '—'
        )}
      </dd>
    </dl>
  );
}

function ResumeOffer({ saved }: { saved: SavedRun }) {
  const { resumeCheckpointStep, reloadBeforeResume, resumeWaiting, resumeLastRun, cancelResume, dismissResumeOffer } = useTraining();
  const status = useModel((s) => s.status);
  const want = describeSavedModel(saved.model);
  const otherModel = status.state === 'ready' && !sameModel(saved.model, status.spec, status.info);
  const started = new Date(saved.startedAt);
  return (
    <div className="train-resume-offer" data-testid="train-resume-offer" role="group" aria-label="Unfinished training run">
      <p>
        {reloadBeforeResume ? 'The GPU device was lost during the run. ' : 'The last training run did not finish. '}
        It trained {want}
        {Number.isNaN(started.getTime()) ? '' : `, started ${started.toLocaleString()}`}
        {resumeCheckpointStep !== null ? `; its latest checkpoint is at step ${resumeCheckpointStep}` : ''}.
      </p>
      {otherModel && !resumeWaiting && (
        <p className="hint" data-testid="train-resume-model">
          Load {want} in the Model panel first (now loaded: {status.info.nameOrPath}).
        </p>
      )}
      {reloadBeforeResume && <p className="hint">Resuming loads the model again first.</p>}
      <div className="row">
        <button type="button" data-testid="train-resume-last" disabled={resumeWaiting !== null} onClick={() => void resumeLastRun()}>
          Resume the last run from its checkpoint
        </button>
        {resumeWaiting === null ? (
          <button type="button" className="secondary" data-testid="train-resume-dismiss" onClick={dismissResumeOffer}>
            Dismiss
          </button>
        ) : (
          <button type="button" className="secondary" data-testid="train-resume-cancel" onClick={cancelResume}>
            Cancel
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
      aria-label="Training log"
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
      }}
    >
      {lines.length > 0 ? lines.join('\n') : 'No run yet.'}
    </pre>
  );
}

export function TrainingPanel() {
  const t = useTraining();
  const workerAdapter = useStudio((s) => (s.worker.state === 'ready' ? s.worker.report : null));
  const modelReady = useModel((s) => s.status.state === 'ready');
  const hasData = useData((s) => s.spec !== null);
  const adapter = useAdapter((s) => s.adapter);
  const methodError = trainingFieldsError(useMethod());
  const busy = t.state === 'starting' || t.state === 'running' || t.state === 'paused' || t.state === 'stopping';
  const badRecords = useData((s) => (s.status.state === 'ready' && !s.skipBadRecords ? s.status.preview.problems.length : 0));
  const canStart = modelReady && hasData && !busy && badRecords === 0;
  const why = busy
    ? null
    : !modelReady
      ? 'Load a model to train.'
      : !hasData
        ? 'Choose a dataset to train on.'
        : badRecords > 0
          ? `The data has ${badRecords} bad record${badRecords === 1 ? '' : 's'}: fix ${badRecords === 1 ? 'it' : 'them'}, or tick "${RUN_FIELDS.skipBadRecords.label}" in the Data panel.`
          : null;
  return (
    <section className="card panel" data-testid="panel-training" aria-labelledby="training-title">
      <header className="card-header">
        <h2 id="training-title">Training</h2>
        <StatusPill state={t.state} reason={t.reason} />
      </header>
      {workerAdapter?.isFallbackAdapter && (
        <p className="note-warn" data-testid="train-fallback-note">
          Training runs on {workerAdapter.description || workerAdapter.architecture || 'a CPU fallback adapter'}, a CPU fallback for WebGPU:
          it will be slow (seconds per step even for the embedded model). A browser with a hardware GPU adapter trains many times faster.
        </p>
      )}
      {t.resumeOffer && !busy && <ResumeOffer saved={t.resumeOffer} />}
      <div className="row train-controls">
        <button type="button" data-testid="train-start" disabled={!canStart} onClick={() => void t.start()}>
          {t.state === 'done' || t.state === 'error' ? 'Start a new run' : 'Start'}
        </button>
        {/* One button that pauses a running run and resumes a paused one: never a second Resume next to the offer above. */}
        {t.state === 'paused' ? (
          <button type="button" className="secondary" data-testid="train-resume" disabled={t.control !== null} onClick={() => void t.resume()}>
            Resume
          </button>
        ) : (
          <button type="button" className="secondary" data-testid="train-pause" disabled={t.state !== 'running' || t.control !== null} onClick={() => void t.pause()}>
            {t.control === 'pause' ? 'Pausing…' : 'Pause'}
          </button>
        )}
        <button
          type="button"
          className="secondary"
          data-testid="train-stop"
          disabled={!(t.state === 'starting' || t.state === 'running' || t.state === 'paused') || t.control === 'stop'}
          onClick={() => void t.stop()}
        >
          Stop
        </button>
        {adapter && (
          <label className="check">
            <input
              type="checkbox"
              data-testid="train-from-adapter"
              checked={t.fromCurrentAdapter}
              disabled={busy}
              onChange={(e) => t.setFromCurrentAdapter(e.target.checked)}
            />
            Start from the current adapter ({adapter.origin} {adapter.label})
          </label>
        )}
      </div>
      {why && (
        <p className="muted" data-testid="train-start-why">
          {why}
        </p>
      )}
      {methodError && !busy && <p className="hint">The Method panel has an invalid setting: {methodError}</p>}
      {t.error && (
        <p className="error" role="alert" data-testid="train-error" data-name={t.error.name}>
          {t.error.name && t.error.name !== 'Error' ? `${t.error.name}: ` : ''}
          {t.error.message}
        </p>
      )}
      <LossChart steps={t.steps} totalSteps={t.totalSteps} />
      <Numbers />
      <h3>Log</h3>
      <Log lines={t.log} />
    </section>
  );
}
