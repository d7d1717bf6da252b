/**
 * Methods side by side (in the Compare step): choose methods, train each in turn on the same data and settings, and
 * see them in one table (the rows `compare-methods` prints), their loss curves on one chart, and their
 * continuations of one prompt next to the base model's.
 */
import { availableMethods, methodById } from '../../methods/registry';
import { comparisonCells } from '../../trainer/method-comparison';
import { useT } from '../i18n';
import { useFieldText } from '../i18n/field-text';
import { useRuns } from '../stores/runs';
import { useSideBySide } from '../stores/side-by-side';
import { useTraining } from '../stores/training';
import { RunsChart } from './RunsChart';
import { useStartBlocker } from './TrainingPanel';

export function SideBySidePanel() {
  const t = useT('sideBySide');
  const ft = useFieldText();
  const s = useSideBySide();
  const records = useRuns((r) => r.records);
  const trainingBusy = useTraining((x) => x.state === 'starting' || x.state === 'running' || x.state === 'paused' || x.state === 'stopping');
  const blocker = useStartBlocker();
  const working = s.state === 'training' || s.state === 'generating';
  const why = s.chosen.length === 0 ? t.whyNoMethods : blocker;
  const runs = s.runIds.map((id) => records.find((r) => r.id === id)).filter((r) => r !== undefined);
  const columns = t.columns.split('|');
  return (
    <section className="card panel" data-testid="panel-side-by-side" aria-labelledby="sbs-title">
      <header className="card-header">
        <h2 id="sbs-title">{t.title}</h2>
        <span className="hint" data-testid="sbs-state" data-state={s.state}>
          {working ? t.running : ''}
        </span>
      </header>
      <p className="hint">{t.intro}</p>
      <fieldset className="radio-row">
        <legend>{t.methods}</legend>
        {availableMethods().map((m) => (
          <label key={m.id} className="check">
            <input type="checkbox" data-testid={`sbs-method-${m.id}`} checked={s.chosen.includes(m.id)} disabled={working} onChange={() => s.toggle(m.id)} />
            {ft.methodLabel(m)}
          </label>
        ))}
      </fieldset>
      <div className="row">
        <button type="button" data-testid="sbs-run" disabled={working || trainingBusy || why !== null} onClick={() => void s.run()}>
          {t.run}
        </button>
      </div>
      {why && !working && (
        <p className="muted" data-testid="sbs-why">
          {why}
        </p>
      )}
      {s.progress && (
        <p className="note-info" data-testid="sbs-progress" aria-live="polite">
          {t.training(s.progress.index, s.progress.total, ft.methodLabel(methodById(s.progress.method)))}
        </p>
      )}
      {s.state === 'generating' && (
        <p className="note-info" aria-live="polite">
          {t.generating}
        </p>
      )}
      {s.error && (
        <p className="error" role="alert" data-testid="sbs-error">
          {s.error.name && s.error.name !== 'Error' ? `${s.error.name}: ` : ''}
          {s.error.message}
        </p>
      )}
      {runs.some((r) => r.comparison) && (
        <div className="table-scroll">
          <table className="runs-table" data-testid="sbs-table" aria-label={t.tableLabel}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {runs.map(
                (r) =>
                  r.comparison && (
                    <tr key={r.id} data-testid="sbs-row" data-method={r.comparison.method}>
                      {comparisonCells(r.comparison).map((cell, i) => (
                        <td key={i} className={i === 0 ? undefined : 'num'}>
                          {i === 0 ? ft.methodLabel(methodById(r.comparison!.method)) : cell}
                        </td>
                      ))}
                    </tr>
                  ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {runs.length > 0 && <RunsChart runs={runs} axis="step" />}
      {s.outputs && (
        <div data-testid="sbs-outputs">
          <h3>{t.outputsTitle(s.outputs.prompt)}</h3>
          <dl className="facts">
            <dt>{t.base}</dt>
            <dd data-testid="sbs-output-base">{s.outputs.base ?? '…'}</dd>
            {runs.map((r) => (
              <div className="fact-row" key={r.id}>
                <dt>{ft.methodLabel(methodById(r.peftMethod.id))}</dt>
                <dd data-testid={`sbs-output-${r.peftMethod.id}`}>{s.outputs!.byRun[r.id] ?? '…'}</dd>
              </div>
            ))}
          </dl>
        </div>
      )}
    </section>
  );
}
