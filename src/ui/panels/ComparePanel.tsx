import { adapterSummary } from '../format';
import { useEffect, useState, type KeyboardEvent } from 'react';
import { useAdapter } from '../stores/adapter';
import { useT } from '../i18n';
import { BATCH_PROMPT_COUNT, parseBatchPrompts, useCompare, type CompareSettings, type SideState } from '../stores/compare';
import { useModel } from '../stores/model';
import { PanelStatus } from './PanelStatus';
import './compare.css';

/**
 * A number input that keeps what is typed while it is not a valid value yet (an empty field, "0."), and commits
 * each valid value; leaving the field shows the committed value again.
 */
function NumberField(props: {
  label: string;
  value: number;
  onCommit(value: number): void;
  testId?: string;
  min?: number;
  max?: number;
  step?: number | 'any';
  integer?: boolean;
}) {
  const { label, value, onCommit, testId, min, max, step = 'any', integer = false } = props;
  const [draft, setDraft] = useState(String(value));
  // A new value from the store shows, unless it is what the field already says (e.g. "1.50" for 1.5).
  useEffect(() => setDraft((d) => (d.trim() !== '' && Number(d) === value ? d : String(value))), [value]);
  const commit = (text: string) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) return;
    if (integer && !Number.isInteger(n)) return;
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) return;
    onCommit(n);
  };
  return (
    <label>
      {label}
      <input
        type="number"
        data-testid={testId}
        value={draft}
        min={min}
        max={max}
        step={step}
        onChange={(e) => {
          setDraft(e.target.value);
          commit(e.target.value);
        }}
        onBlur={() => setDraft(String(value))}
      />
    </label>
  );
}

function SamplingControls({ disabled }: { disabled: boolean }) {
  const t = useT('compare');
  const { settings, seed, setSetting, setSeed, resetSettings } = useCompare();
  const num = (key: Exclude<keyof CompareSettings, 'doSample'>) => (v: number) => setSetting(key, v);
  return (
    <fieldset className="compare-sampling" disabled={disabled}>
      <legend>{t.samplingLegend}</legend>
      <label className="compare-check">
        <input type="checkbox" data-testid="compare-do-sample" checked={settings.doSample} onChange={(e) => setSetting('doSample', e.target.checked)} />
        {t.doSample}
      </label>
      <NumberField label={t.temperature} testId="compare-temperature" value={settings.temperature} min={0} step={0.05} onCommit={num('temperature')} />
      <NumberField label={t.topK} testId="compare-top-k" value={settings.topK} min={0} step={1} integer onCommit={num('topK')} />
      <NumberField label={t.topP} testId="compare-top-p" value={settings.topP} min={0.01} max={1} step={0.01} onCommit={num('topP')} />
      <NumberField label={t.repetitionPenalty} testId="compare-repetition-penalty" value={settings.repetitionPenalty} min={0.01} step={0.05} onCommit={num('repetitionPenalty')} />
      <NumberField label={t.maxNewTokens} testId="compare-max-new-tokens" value={settings.maxNewTokens} min={1} max={4096} step={1} integer onCommit={num('maxNewTokens')} />
      <NumberField label={t.seed} testId="compare-seed" value={seed} min={0} step={1} integer onCommit={setSeed} />
      <button type="button" className="secondary" data-testid="compare-reset-settings" onClick={resetSettings}>
        {t.modelDefaults}
      </button>
    </fieldset>
  );
}

function Output({ title, side, prompt, testId }: { title: string; side: SideState; prompt: string; testId: string }) {
  const t = useT('compare');
  return (
    <div className="compare-column">
      <h3 id={`${testId}-title`}>{title}</h3>
      <pre className="compare-output" aria-labelledby={`${testId}-title`} aria-busy={side.status === 'running'}>
        <span className="compare-echo">{prompt}</span>
        <span data-testid={testId}>{side.text}</span>
        {side.status === 'running' && <span className="compare-caret" aria-hidden="true" />}
      </pre>
      <p className="hint" data-testid={`${testId}-stop`}>
        {side.status === 'running' && (side.tokens === 0 && side.note ? `${side.note}…` : t.generatingTokens(side.tokens))}
        {side.status === 'done' && side.stopReason && t.doneLine(side.tokens, side.stopReason, side.note ?? '')}
        {side.status === 'error' && (side.note ? t.failedWith(side.note) : t.failed)}
        {side.status === 'skipped' && (side.note || t.notGeneratedNoAdapter)}
      </p>
    </div>
  );
}

function BatchSection({ busy }: { busy: boolean }) {
  const t = useT('compare');
  const { batchText, batchRows, batchCurrent, setBatchText, resetBatchPrompts, runBatch } = useCompare();
  const count = parseBatchPrompts(batchText).length;
  return (
    <>
      <h3>{t.batchHeading}</h3>
      <label>
        {t.batchLabel(BATCH_PROMPT_COUNT)}
        <textarea rows={5} data-testid="compare-batch-prompts" value={batchText} spellCheck={false} onChange={(e) => setBatchText(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" data-testid="compare-batch-run" disabled={busy || count === 0} onClick={() => void runBatch()}>
          {t.batchRun(count)}
        </button>
        <button type="button" className="secondary" data-testid="compare-batch-reset" disabled={busy} onClick={resetBatchPrompts}>
          {t.batchReset}
        </button>
        {batchCurrent !== null && (
          <span className="muted" aria-live="polite">
            {t.batchProgress(batchCurrent + 1, batchRows.length)}
          </span>
        )}
      </div>
      {batchRows.length > 0 && (
        <div className="compare-table-wrap">
          <table className="compare-table" data-testid="compare-table">
            <thead>
              <tr>
                <th scope="col">{t.prompt}</th>
                <th scope="col">{t.baseModel}</th>
                <th scope="col">{t.withAdapterColumn}</th>
              </tr>
            </thead>
            <tbody>
              {batchRows.map((row, i) => (
                <tr key={i} data-testid="compare-row" aria-busy={batchCurrent === i}>
                  <td className="compare-cell-prompt">{row.prompt}</td>
                  <td data-testid="compare-row-base">{row.base}</td>
                  <td data-testid="compare-row-adapted">{row.adapted ?? <span className="muted">{t.batchNoAdapter}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function ComparePanel() {
  const t = useT('compare');
  const { prompt, promptEdited, status, error, base, adapted, deployed, includeDeployed, setIncludeDeployed, lastRun, setPrompt, resetPrompt, run } = useCompare();
  const adapter = useAdapter((s) => s.adapter);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const busy = status === 'running';
  const onPromptKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !busy) {
      e.preventDefault();
      void run();
    }
  };
  const shownPrompt = lastRun?.prompt ?? '';
  return (
    <section className="card panel compare-panel" data-testid="panel-compare" aria-labelledby="compare-title">
      <header className="card-header">
        <h2 id="compare-title">{t.title}</h2>
        <PanelStatus status={status} testId="compare-status" text={status === 'idle' ? t.statusNotRun : status === 'running' ? t.statusGenerating : undefined} />
      </header>
      {!modelReady && <p className="muted">{t.needModel}</p>}
      {adapter ? (
        <p className="muted" data-testid="compare-adapter">
          {t.comparing(adapter.origin, adapterSummary(adapter))}
        </p>
      ) : (
        <p className="compare-note" data-testid="compare-no-adapter">
          {t.noAdapter}
        </p>
      )}
      <label>
        {t.prompt}
        <textarea rows={4} data-testid="compare-prompt" value={prompt} spellCheck={false} onChange={(e) => setPrompt(e.target.value)} onKeyDown={onPromptKey} />
      </label>
      <SamplingControls disabled={busy} />
      <div className="row">
        <button type="button" data-testid="compare-run" disabled={busy} onClick={() => void run()}>
          {busy ? t.generatingButton : !adapter ? t.generate : includeDeployed && adapter.mergeRefusal === null ? t.generateAllThree : t.generateBoth}
        </button>
        {promptEdited && (
          <button type="button" className="secondary" data-testid="compare-prompt-reset" onClick={resetPrompt} disabled={busy}>
            {t.datasetPrompt}
          </button>
        )}
        <label className="compare-check">
          <input type="checkbox" data-testid="compare-deployed-on" checked={includeDeployed} disabled={busy} onChange={(e) => setIncludeDeployed(e.target.checked)} />
          {t.alsoDeployed}
        </label>
        <span className="hint">{t.runHint}</span>
      </div>
      {error && (
        <p className="error" role="alert" data-testid="compare-error">
          {error.message}
        </p>
      )}
      <div className="compare-columns">
        <Output title={t.baseModel} side={base} prompt={shownPrompt} testId="compare-base" />
        <Output title={adapter ? t.withAdapter(adapter.origin) : t.withNoAdapter} side={adapted} prompt={adapted.status === 'skipped' ? '' : shownPrompt} testId="compare-adapted" />
        <Output title={t.deployed} side={deployed} prompt={deployed.status === 'skipped' ? '' : shownPrompt} testId="compare-deployed" />
      </div>
      <BatchSection busy={busy} />
    </section>
  );
}
