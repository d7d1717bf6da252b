/**
 * The Runs section: every kept run with its status, final loss and training time; overlay any of them on one chart
 * (step or epoch on the x axis) with a table of the settings that differ; open a run's adapter to compare or export
 * it, resume an interrupted run, rename or delete a run (after a confirmation that says what is lost).
 */
import { formatBytes } from '../format';
import { useT } from '../i18n';
import { canResume, finalLoss, finalValLoss, flatSettings, settingsDiff, type RunRecord, type RunStatus } from '../runs/run-record';
import { useRuns } from '../stores/runs';
import { useTraining } from '../stores/training';
import { formatDuration } from '../stores/training-helpers';
import { lossText } from './TrainingPanel';
import { RunsChart } from './RunsChart';
import './runs.css';

const STATUS_CLASS: Record<RunStatus, string> = {
  running: 'status-busy',
  interrupted: 'status-detecting',
  completed: 'status-ok',
  stopped: 'status-idle',
  failed: 'status-bad',
};

function RunRow({ run }: { run: RunRecord }) {
  const t = useT('runs');
  const { overlay, toggleOverlay, rename, openRun, opening, opened, askDelete, showDetails, details } = useRuns();
  const busy = useTraining((s) => s.state === 'starting' || s.state === 'running' || s.state === 'paused' || s.state === 'stopping');
  const resumeRun = useTraining((s) => s.resumeRun);
  const started = new Date(run.startedAt);
  return (
    <tr data-testid="run-row" data-run-id={run.id} data-status={run.status} className={opened === run.id ? 'run-opened' : undefined}>
      <td>
        <input
          type="checkbox"
          data-testid="run-overlay"
          aria-label={t.overlayOne(run.name)}
          checked={overlay.includes(run.id)}
          disabled={run.steps.length === 0}
          onChange={() => toggleOverlay(run.id)}
        />
      </td>
      <td className="run-name-cell">
        <input
          className="run-name"
          data-testid="run-name"
          aria-label={t.nameOf(run.name)}
          defaultValue={run.name}
          key={run.name}
          onBlur={(e) => rename(run.id, e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') e.currentTarget.blur();
          }}
        />
        <span className="hint">{Number.isNaN(started.getTime()) ? '' : started.toLocaleString()}</span>
      </td>
      <td>
        <span className={`status ${STATUS_CLASS[run.status]}`} data-testid="run-status">
          {t.status(run.status)}
        </span>
      </td>
      <td className="num" data-testid="run-final-loss" data-value={finalLoss(run) ?? undefined}>
        {lossText(finalLoss(run))}
        {finalValLoss(run) !== null && <span className="hint"> {t.valShort(lossText(finalValLoss(run)))}</span>}
      </td>
      <td className="num">{`${run.steps.at(-1)?.step ?? 0} / ${run.totalSteps || '—'}`}</td>
      <td className="num" data-testid="run-time">
        {formatDuration(run.trainSeconds)}
      </td>
      <td className="run-actions">
        {canResume(run) && (
          <button type="button" className="secondary" data-testid="run-resume" disabled={busy} onClick={() => void resumeRun(run.id)}>
            {t.resume}
          </button>
        )}
        {run.hasAdapter && (
          <button type="button" className="secondary" data-testid="run-open" disabled={opening !== null} onClick={() => void openRun(run.id)}>
            {opening === run.id ? t.opening : opened === run.id ? t.opened : t.open}
          </button>
        )}
        <button type="button" className="secondary" data-testid="run-details" aria-expanded={details === run.id} onClick={() => showDetails(run.id)}>
          {t.details}
        </button>
        <button type="button" className="secondary danger" data-testid="run-delete" disabled={run.status === 'running'} onClick={() => void askDelete(run.id)}>
          {t.delete}
        </button>
      </td>
    </tr>
  );
}

function DeleteConfirm() {
  const t = useT('runs');
  const { pendingDelete, confirmDelete, cancelDelete } = useRuns();
  if (!pendingDelete) return null;
  return (
    <div className="run-delete-confirm" role="alertdialog" aria-labelledby="run-delete-what" data-testid="run-delete-dialog">
      <p id="run-delete-what" data-testid="run-delete-what">
        {t.deleteWhat(pendingDelete.name, pendingDelete.steps, formatBytes(pendingDelete.adapterBytes), formatBytes(pendingDelete.checkpointBytes))}
      </p>
      <div className="row">
        <button type="button" className="danger" data-testid="run-delete-confirm" onClick={() => void confirmDelete()}>
          {t.deleteConfirm}
        </button>
        <button type="button" className="secondary" data-testid="run-delete-cancel" onClick={cancelDelete}>
          {t.cancel}
        </button>
      </div>
    </div>
  );
}

function Diff({ runs }: { runs: readonly RunRecord[] }) {
  const t = useT('runs');
  const rows = settingsDiff(runs);
  return (
    <div className="table-scroll">
      <table className="runs-diff" data-testid="runs-diff" data-rows={rows.length}>
        <caption>{rows.length === 0 ? t.diffNone : t.diffCaption}</caption>
        {rows.length > 0 && (
          <>
            <thead>
              <tr>
                <th>{t.setting}</th>
                {runs.map((r) => (
                  <th key={r.id}>{r.name}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.key} data-testid="runs-diff-row" data-key={row.key}>
                  <th scope="row">
                    <code>{row.key}</code>
                  </th>
                  {row.values.map((v, i) => (
                    <td key={runs[i].id}>{v ?? '—'}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </>
        )}
      </table>
    </div>
  );
}

function Details({ run }: { run: RunRecord }) {
  const t = useT('runs');
  const settings = [...flatSettings(run)];
  return (
    <div className="run-details" data-testid="run-details-panel" data-run-id={run.id}>
      <h3>{t.settingsOf(run.name)}</h3>
      <dl className="facts">
        {settings.map(([k, v]) => (
          <div className="fact-row" key={k}>
            <dt>
              <code>{k}</code>
            </dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {run.error && (
        <p className="error">
          {run.error.name}: {run.error.message}
        </p>
      )}
      <h3>{t.logOf(run.name)}</h3>
      <pre className="train-log" data-testid="run-log">
        {run.log.length > 0 ? run.log.join('\n') : '—'}
      </pre>
    </div>
  );
}

export function RunsPanel() {
  const t = useT('runs');
  const { loaded, records, overlay, axis, setAxis, details, openError, storageError, opened } = useRuns();
  const shown = records.filter((r) => overlay.includes(r.id));
  const detailRun = records.find((r) => r.id === details);
  return (
    <section className="card panel" data-testid="panel-runs" aria-labelledby="runs-title">
      <header className="card-header">
        <h2 id="runs-title">{t.title}</h2>
        <span className="hint" data-testid="runs-count" data-count={records.length}>
          {loaded ? t.count(records.length) : t.reading}
        </span>
      </header>
      <p className="hint">{t.intro}</p>
      {storageError && (
        <p className="error" role="alert" data-testid="runs-storage-error">
          {t.storageError(storageError.message)}
        </p>
      )}
      <DeleteConfirm />
      {records.length > 0 && (
        <div className="table-scroll">
          <table className="runs-table" data-testid="runs-table">
            <thead>
              <tr>
                <th scope="col" title={t.overlayHeader}>
                  {t.overlayShort}
                </th>
                <th scope="col">{t.name}</th>
                <th scope="col">{t.statusHeader}</th>
                <th scope="col">{t.finalLoss}</th>
                <th scope="col">{t.steps}</th>
                <th scope="col">{t.time}</th>
                <th scope="col">
                  <span className="visually-hidden">{t.actions}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <RunRow key={r.id} run={r} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {openError && (
        <p className="error" role="alert" data-testid="run-open-error">
          {openError.message}
        </p>
      )}
      {opened && records.some((r) => r.id === opened) && (
        <p className="hint" data-testid="run-opened-note">
          {t.openedNote(records.find((r) => r.id === opened)!.name)}
        </p>
      )}
      {shown.length > 0 && (
        <>
          <div className="row runs-axis" role="radiogroup" aria-label={t.axisLabel}>
            <span className="hint">{t.axisLabel}</span>
            {(['step', 'epoch'] as const).map((a) => (
              <label key={a} className="check">
                <input type="radio" name="runs-axis" data-testid={`runs-axis-${a}`} checked={axis === a} onChange={() => setAxis(a)} />
                {t.axis(a)}
              </label>
            ))}
          </div>
          <RunsChart runs={shown} axis={axis} />
          {shown.length > 1 && <Diff runs={shown} />}
        </>
      )}
      {detailRun && <Details run={detailRun} />}
    </section>
  );
}
