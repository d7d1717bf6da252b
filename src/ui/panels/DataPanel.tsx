import { SAMPLE_DATASETS } from '../../model-io/embedded';
import { RUN_FIELDS } from '../../options/run-fields';
import { useData, type DataSourceKind } from '../stores/data';
import { useModel } from '../stores/model';
import { LengthHistogram } from './LengthHistogram';
import { PanelStatus } from './PanelStatus';

const SOURCES: ReadonlyArray<{ kind: DataSourceKind; label: string }> = [
  { kind: 'sample', label: 'Sample dataset' },
  { kind: 'file', label: 'Upload a file' },
  { kind: 'paste', label: 'Paste text' },
];

function Preview() {
  const { status, skipBadRecords, setSkipBadRecords, maxLength } = useData();
  if (status.state !== 'ready') return null;
  const p = status.preview;
  const where = p.lineUnit === 'line' ? 'line' : 'item';
  return (
    <>
      <dl className="facts" data-testid="data-stats">
        <dt>Source</dt>
        <dd>
          {p.source} ({p.format}
          {p.shape ? `, ${p.shape} records` : ''})
        </dd>
        <dt>Records</dt>
        <dd data-testid="data-records">{p.records}</dd>
        <dt>Examples</dt>
        <dd data-testid="data-examples">{p.examples}</dd>
        <dt>Trained tokens</dt>
        <dd data-testid="data-trained-tokens">{p.trainedTokens.toLocaleString('en-US')}</dd>
        <dt>Cut to {maxLength} tokens</dt>
        <dd>{p.truncated}</dd>
      </dl>
      <LengthHistogram lengths={p.lengths} maxLength={maxLength} truncated={p.truncated} />
      {p.problems.length > 0 && (
        <div className="problems" role="alert" data-testid="data-problems">
          <p>
            <strong>
              {p.problems.length} bad record{p.problems.length === 1 ? '' : 's'}
            </strong>{' '}
            in {p.source}:
          </p>
          <ul>
            {p.problems.slice(0, 20).map((q) => (
              <li key={`${q.line}:${q.message}`}>
                {where} {q.line}: {q.message}
              </li>
            ))}
            {p.problems.length > 20 && <li>… and {p.problems.length - 20} more</li>}
          </ul>
          <label className="check">
            <input type="checkbox" data-testid="data-skip-bad" checked={skipBadRecords} onChange={(e) => setSkipBadRecords(e.target.checked)} />
            {RUN_FIELDS.skipBadRecords.label}
          </label>
          <p className="hint">{RUN_FIELDS.skipBadRecords.help}</p>
        </div>
      )}
      <h3>As the model sees it</h3>
      <p className="muted">
        <mark className="tok-trained">Highlighted</mark> tokens are what the loss trains on; the rest is context.
      </p>
      <ol className="preview" data-testid="data-preview">
        {p.preview.map((ex) => (
          <li key={ex.line}>
            <span className="muted">
              {where} {ex.line}:{' '}
            </span>
            {ex.pieces.map((piece, i) =>
              piece.trained ? (
                <mark key={i} className="tok-trained">
                  {piece.text}
                </mark>
              ) : (
                <span key={i} className="tok-context">
                  {piece.text}
                </span>
              ),
            )}
          </li>
        ))}
      </ol>
    </>
  );
}

export function DataPanel() {
  const { sourceKind, sampleName, pasted, maxLength, status, spec, setSourceKind, chooseSample, chooseFile, setPasted, setMaxLength, analyze } = useData();
  const modelReady = useModel((s) => s.status.state === 'ready');
  return (
    <section className="card panel" data-testid="panel-data" aria-labelledby="data-title">
      <header className="card-header">
        <h2 id="data-title">Data</h2>
        <PanelStatus status={status.state} testId="data-status" text={status.state === 'idle' ? 'no dataset' : undefined} />
      </header>
      {!modelReady && <p className="muted">Load a model first: the dataset is tokenized with its tokenizer.</p>}
      <fieldset className="radio-row">
        <legend>Dataset</legend>
        {SOURCES.map(({ kind, label }) => (
          <label key={kind}>
            <input type="radio" name="data-source" value={kind} checked={sourceKind === kind} onChange={() => setSourceKind(kind)} data-testid={`data-source-${kind}`} />
            {label}
          </label>
        ))}
      </fieldset>
      {sourceKind === 'sample' && (
        <fieldset className="sample-list">
          <legend>Sample datasets</legend>
          {SAMPLE_DATASETS.map((d) => (
            <label key={d.name} className="sample">
              <input type="radio" name="sample" value={d.name} checked={sampleName === d.name && status.state !== 'idle'} disabled={!modelReady} onChange={() => void chooseSample(d.name)} data-testid={`sample-${d.name}`} />
              <span>
                <strong>{d.title}</strong> <code>{d.shape}</code>
                <br />
                <span className="muted">{d.description}</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {sourceKind === 'file' && (
        <label>
          A .jsonl, .json, .csv or .txt file
          <input type="file" accept=".jsonl,.json,.csv,.txt" disabled={!modelReady} data-testid="data-file" onChange={(e) => e.target.files?.[0] && void chooseFile(e.target.files[0])} />
        </label>
      )}
      {sourceKind === 'paste' && (
        <div>
          <label>
            Text (JSON Lines records, or plain text with one example per paragraph)
            <textarea rows={6} value={pasted} data-testid="data-paste" onChange={(e) => setPasted(e.target.value)} />
          </label>
          <button type="button" disabled={!modelReady || !pasted.trim()} onClick={() => void analyze()} data-testid="data-paste-use">
            Use this text
          </button>
        </div>
      )}
      <div className="row">
        <label>
          {RUN_FIELDS.maxLength.label}
          <input type="number" min={RUN_FIELDS.maxLength.min} step={1} value={maxLength} data-testid="data-max-length" onChange={(e) => setMaxLength(Number(e.target.value))} />
        </label>
        <button type="button" disabled={!modelReady || !spec} onClick={() => void analyze()} data-testid="data-analyze">
          Re-tokenize
        </button>
      </div>
      {status.state === 'error' && (
        <p className="error" role="alert" data-testid="data-error">
          {status.error.message}
        </p>
      )}
      <Preview />
    </section>
  );
}
