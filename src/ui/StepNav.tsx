/** The workflow's steps as tabs, each with a mark of how far it is: done, in progress, needs attention. */
import { useT } from './i18n';
import { useAdapter } from './stores/adapter';
import { useData } from './stores/data';
import { trainingFieldsError, useMethod } from './stores/method';
import { useModel } from './stores/model';
import { useTraining } from './stores/training';
import { STEPS, useWorkflow, type StepId } from './stores/workflow';

export type StepMark = 'done' | 'busy' | 'attention' | 'none';

function useMarks(): Record<StepId, StepMark> {
  const model = useModel((s) => s.status.state);
  const data = useData((s) => (s.status.state === 'ready' ? (s.status.preview.problems.length > 0 && !s.skipBadRecords ? 'attention' : 'done') : s.status.state));
  const methodError = trainingFieldsError(useMethod());
  const train = useTraining((s) => s.state);
  const adapter = useAdapter((s) => s.adapter !== null);
  const mark = (state: string): StepMark => (state === 'ready' || state === 'done' ? 'done' : state === 'loading' ? 'busy' : state === 'error' || state === 'attention' ? 'attention' : 'none');
  return {
    model: mark(model),
    data: mark(data),
    method: methodError ? 'attention' : model === 'ready' ? 'done' : 'none',
    train: train === 'done' ? 'done' : train === 'error' ? 'attention' : train === 'idle' ? 'none' : 'busy',
    compare: adapter ? 'done' : 'none',
    export: 'none',
  };
}

export function StepNav() {
  const t = useT('app');
  const { step, go } = useWorkflow();
  const marks = useMarks();
  return (
    <nav className="step-nav" aria-label={t.workflow}>
      <ol role="tablist">
        {STEPS.map((id, i) => (
          <li key={id} role="presentation">
            <button
              type="button"
              role="tab"
              id={`step-${id}`}
              data-testid={`step-${id}`}
              data-mark={marks[id]}
              aria-selected={step === id}
              aria-current={step === id ? 'step' : undefined}
              className={`step-tab${step === id ? ' step-current' : ''} step-${marks[id]}`}
              onClick={() => go(id)}
            >
              <span className="step-num" aria-hidden="true">
                {marks[id] === 'done' && step !== id ? '✓' : i + 1}
              </span>
              <span className="step-label">{t.step(id)}</span>
              {marks[id] !== 'none' && <span className="visually-hidden">{t.mark(marks[id])}</span>}
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
