/**
 * The compact status every step shows under the tabs: the loaded model and data, and the run (its name, state, step,
 * latest loss, time left or shader compiles, Pause / Resume / Stop).
 */
import { useT } from './i18n';
import { CompileNote, lossText, RunControls, StatusPill, useEtaText } from './panels/TrainingPanel';
import { useData } from './stores/data';
import { useModel } from './stores/model';
import { useRuns } from './stores/runs';
import { useTraining } from './stores/training';
import { useWorkflow } from './stores/workflow';

function ModelSummary() {
  const t = useT('app');
  const status = useModel((s) => s.status);
  const text =
    status.state === 'ready'
      ? `${status.info.nameOrPath} · ${status.info.format}`
      : status.state === 'loading'
        ? t.modelLoading
        : status.state === 'error'
          ? t.modelError
          : t.noModel;
  return (
    <span className="bar-item" data-testid="bar-model" data-state={status.state}>
      <span className="bar-key">{t.step('model')}</span> {text}
    </span>
  );
}

function DataSummary() {
  const t = useT('app');
  const d = useData();
  const name = d.spec?.fileName ?? (d.sourceKind === 'sample' ? d.sampleName : d.sourceKind === 'paste' ? t.pasted : '—');
  const text =
    d.status.state === 'ready'
      ? t.dataSummary(name, d.status.preview.records, d.status.preview.problems.length)
      : d.status.state === 'loading'
        ? t.dataLoading
        : d.status.state === 'error'
          ? t.dataError
          : t.noData;
  return (
    <span className="bar-item" data-testid="bar-data" data-state={d.status.state}>
      <span className="bar-key">{t.step('data')}</span> {text}
    </span>
  );
}

function RunSummary() {
  const t = useT('app');
  const tr = useTraining();
  const name = useRuns((s) => s.records.find((r) => r.id === tr.recordId)?.name ?? null);
  const go = useWorkflow((s) => s.go);
  // The Train step has these controls in its panel: one Pause / Resume / Stop on screen at a time.
  const onTrain = useWorkflow((s) => s.step === 'train');
  const eta = useEtaText();
  if (tr.state === 'idle' && !tr.resumeOffer) {
    return (
      <span className="bar-item bar-run" data-testid="bar-run" data-state="idle">
        <span className="bar-key">{t.run}</span> {t.noRun}
      </span>
    );
  }
  const last = tr.steps.at(-1);
  return (
    <span className="bar-item bar-run" data-testid="bar-run" data-state={tr.state}>
      <button type="button" className="link" onClick={() => go('train')} title={t.toTraining}>
        {name ?? t.run}
      </button>
      <StatusPill state={tr.state} reason={tr.reason} testId="bar-status" />
      {tr.resumeOffer && tr.state === 'idle' && <span className="hint">{t.interrupted}</span>}
      <span data-testid="bar-step">{tr.totalSteps > 0 ? t.stepOf(tr.step, tr.totalSteps) : ''}</span>
      <span data-testid="bar-loss">{last ? t.lossIs(lossText(last.loss)) : ''}</span>
      <span data-testid="bar-eta">{tr.state === 'running' || tr.state === 'starting' ? t.etaIs(eta) : ''}</span>
      {!onTrain && <RunControls compact />}
    </span>
  );
}

export function RunStatusBar() {
  const compile = useTraining((s) => s.compile);
  // The Train step shows the compile note in its panel.
  const onTrain = useWorkflow((s) => s.step === 'train');
  return (
    <div className="run-status-bar" data-testid="run-status-bar">
      <ModelSummary />
      <DataSummary />
      <RunSummary />
      {compile && !onTrain && <CompileNote compile={compile} testId="bar-compiling" />}
    </div>
  );
}
