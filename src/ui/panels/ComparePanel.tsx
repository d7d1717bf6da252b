import { adapterSummary } from '../format';
import { useEffect, useState, type KeyboardEvent } from 'react';
import { useAdapter } from '../stores/adapter';
import { BATCH_PROMPT_COUNT, parseBatchPrompts, useCompare, type CompareSettings, type SideState, type StopReason } from '../stores/compare';
import { useModel } from '../stores/model';
import { PanelStatus } from './PanelStatus';
import './compare.css';

const STOP_TEXT: Record<StopReason, string> = {
  eos: 'stopped at the end-of-text token',
  length: 'reached max new tokens',
  context: "reached the model's context length",
  aborted: 'aborted',
};

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
  const { settings, seed, setSetting, setSeed, resetSettings } = useCompare();
  const num = (key: Exclude<keyof CompareSettings, 'doSample'>) => (v: number) => setSetting(key, v);
  return (
    <fieldset className="compare-sampling" disabled={disabled}>
      <legend>Sampling (the same for every side)</legend>
      <label className="compare-check">
        <input type="checkbox" data-testid="compare-do-sample" checked={settings.doSample} onChange={(e) => setSetting('doSample', e.target.checked)} />
        Sample (off: greedy)
      </label>
      <NumberField label="Temperature" testId="compare-temperature" value={settings.temperature} min={0} step={0.05} onCommit={num('temperature')} />
      <NumberField label="Top-k (0 = off)" testId="compare-top-k" value={settings.topK} min={0} step={1} integer onCommit={num('topK')} />
      <NumberField label="Top-p" testId="compare-top-p" value={settings.topP} min={0.01} max={1} step={0.01} onCommit={num('topP')} />
      <NumberField label="Repetition penalty" testId="compare-repetition-penalty" value={settings.repetitionPenalty} min={0.01} step={0.05} onCommit={num('repetitionPenalty')} />
      <NumberField label="Max new tokens" testId="compare-max-new-tokens" value={settings.maxNewTokens} min={1} max={4096} step={1} integer onCommit={num('maxNewTokens')} />
      <NumberField label="Seed" testId="compare-seed" value={seed} min={0} step={1} integer onCommit={setSeed} />
      <button type="button" className="secondary" data-testid="compare-reset-settings" onClick={resetSettings}>
        Model defaults
      </button>
    </fieldset>
  );
}

function Output({ title, side, prompt, testId }: { title: string; side: SideState; prompt: string; testId: string }) {
  return (
    <div className="compare-column">
      <h3 id={`${testId}-title`}>{title}</h3>
      <pre className="compare-output" aria-labelledby={`${testId}-title`} aria-busy={side.status === 'running'}>
        <span className="compare-echo">{prompt}</span>
        <span data-testid={testId}>{side.text}</span>
        {side.status === 'running' && <span className="compare-caret" aria-hidden="true" />}
      </pre>
      <p className="hint" data-testid={`${testId}-stop`}>
        {side.status === 'running' && (side.tokens === 0 && side.note ? `${side.note}…` : `generating… ${side.tokens} token${side.tokens === 1 ? '' : 's'}`)}
        {side.status === 'done' && side.stopReason && `${side.tokens} token${side.tokens === 1 ? '' : 's'}, ${STOP_TEXT[side.stopReason]}${side.note ? `; ${side.note}` : ''}`}
        {side.status === 'error' && (side.note ? `failed: ${side.note}` : 'failed')}
        {side.status === 'skipped' && (side.note || 'not generated: there is no adapter')}
      </p>
    </div>
  );
}

function BatchSection({ busy }: { busy: boolean }) {
  const { batchText, batchRows, batchCurrent, setBatchText, resetBatchPrompts, runBatch } = useCompare();
  const count = parseBatchPrompts(batchText).length;
  return (
    <>
      <h3>Validation prompts</h3>
      <label>
        One prompt per line (write a line break inside a prompt as \n); by default the last {BATCH_PROMPT_COUNT} examples of the dataset
        <textarea rows={5} data-testid="compare-batch-prompts" value={batchText} spellCheck={false} onChange={(e) => setBatchText(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" data-testid="compare-batch-run" disabled={busy || count === 0} onClick={() => void runBatch()}>
          Run validation prompts{count > 0 ? ` (${count})` : ''}
        </button>
        <button type="button" className="secondary" data-testid="compare-batch-reset" disabled={busy} onClick={resetBatchPrompts}>
          Dataset prompts
        </button>
        {batchCurrent !== null && (
          <span className="muted" aria-live="polite">
            prompt {batchCurrent + 1} of {batchRows.length}
          </span>
        )}
      </div>
      {batchRows.length > 0 && (
        <div className="compare-table-wrap">
          <table className="compare-table" data-testid="compare-table">
            <thead>
              <tr>
                <th scope="col">Prompt</th>
                <th scope="col">Base model</th>
                <th scope="col">With adapter</th>
              </tr>
            </thead>
            <tbody>
              {batchRows.map((row, i) => (
                <tr key={i} data-testid="compare-row" aria-busy={batchCurrent === i}>
                  <td className="compare-cell-prompt">{row.prompt}</td>
                  <td data-testid="compare-row-base">{row.base}</td>
                  <td data-testid="compare-row-adapted">{row.adapted ?? <span className="muted">no adapter</span>}</td>
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
        <h2 id="compare-title">Compare</h2>
        <PanelStatus status={status} testId="compare-status" text={status === 'idle' ? 'not run' : status === 'running' ? 'generating…' : undefined} />
      </header>
      {!modelReady && <p className="muted">Load a model first: both sides generate with it.</p>}
      {adapter ? (
        <p className="muted" data-testid="compare-adapter">
          Comparing the base model with the {adapter.origin} adapter: {adapterSummary(adapter)}.
        </p>
      ) : (
        <p className="compare-note" data-testid="compare-no-adapter">
          No adapter yet: train one in the Training panel or import one in the Export panel. Until then Generate shows the base model alone.
        </p>
      )}
      <label>
        Prompt
        <textarea rows={4} data-testid="compare-prompt" value={prompt} spellCheck={false} onChange={(e) => setPrompt(e.target.value)} onKeyDown={onPromptKey} />
      </label>
      <SamplingControls disabled={busy} />
      <div className="row">
        <button type="button" data-testid="compare-run" disabled={busy} onClick={() => void run()}>
          {busy ? 'Generating…' : !adapter ? 'Generate' : includeDeployed && adapter.mergeRefusal === null ? 'Generate all three' : 'Generate both'}
        </button>
        {promptEdited && (
          <button type="button" className="secondary" data-testid="compare-prompt-reset" onClick={resetPrompt} disabled={busy}>
            Dataset's prompt
          </button>
        )}
        <label className="compare-check">
          <input type="checkbox" data-testid="compare-deployed-on" checked={includeDeployed} disabled={busy} onChange={(e) => setIncludeDeployed(e.target.checked)} />
          Also the deployed model (ONNX, onnxruntime-web)
        </label>
        <span className="hint">Ctrl+Enter in the prompt. Base first, then the adapter, then its ONNX export, with the same seed.</span>
      </div>
      {error && (
        <p className="error" role="alert" data-testid="compare-error">
          {error.message}
        </p>
      )}
      <div className="compare-columns">
        <Output title="Base model" side={base} prompt={shownPrompt} testId="compare-base" />
        <Output title={adapter ? `With the ${adapter.origin} adapter` : 'With an adapter (none yet)'} side={adapted} prompt={adapted.status === 'skipped' ? '' : shownPrompt} testId="compare-adapted" />
        <Output title="Deployed (ONNX)" side={deployed} prompt={deployed.status === 'skipped' ? '' : shownPrompt} testId="compare-deployed" />
      </div>
      <BatchSection busy={busy} />
    </section>
  );
}
