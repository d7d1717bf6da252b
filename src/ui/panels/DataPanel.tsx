import { SAMPLE_DATASETS } from '../../model-io/embedded';
import { RUN_FIELDS } from '../../options/run-fields';
import { useT, type MessagesOf } from '../i18n';
import { useFieldText } from '../i18n/field-text';
import { Rich } from '../Rich';
import { useData, type DataSourceKind } from '../stores/data';
import { useModel } from '../stores/model';
import { LengthHistogram } from './LengthHistogram';
import { PanelStatus } from './PanelStatus';

const SOURCES: ReadonlyArray<{ kind: DataSourceKind; label: (t: MessagesOf<'data'>) => string }> = [
  { kind: 'sample', label: (t) => t.sourceSample },
  { kind: 'file', label: (t) => t.sourceFile },
  { kind: 'paste', label: (t) => t.sourcePaste },
];

function Preview() {
  const t = useT('data');
  const ft = useFieldText();
  const { status, skipBadRecords, setSkipBadRecords, maxLength } = useData();
  if (status.state !== 'ready') return null;
  const p = status.preview;
  return (
    <>
      <dl className="facts" data-testid="data-stats">
        <dt>{t.factSource}</dt>
        <dd>{t.sourceValue(p.source, p.format, p.shape)}</dd>
        <dt>{t.factRecords}</dt>
        <dd data-testid="data-records">{p.records}</dd>
        <dt>{t.factExamples}</dt>
        <dd data-testid="data-examples">{p.examples}</dd>
        <dt>{t.factTrainedTokens}</dt>
        <dd data-testid="data-trained-tokens">{p.trainedTokens.toLocaleString('en-US')}</dd>
        <dt>{t.factTruncated(maxLength)}</dt>
        <dd>{p.truncated}</dd>
      </dl>
      <LengthHistogram lengths={p.lengths} maxLength={maxLength} truncated={p.truncated} />
      {p.problems.length > 0 && (
        <div className="problems" role="alert" data-testid="data-problems">
          <p>
            <strong>{t.badRecords(p.problems.length)}</strong>
            {t.badRecordsIn(p.source)}
          </p>
          <ul>
            {p.problems.slice(0, 20).map((q) => (
              <li key={`${q.line}:${q.message}`}>
                {t.at(p.lineUnit, q.line)}
                {q.message}
              </li>
            ))}
            {p.problems.length > 20 && <li>{t.more(p.problems.length - 20)}</li>}
          </ul>
          <label className="check">
            <input type="checkbox" data-testid="data-skip-bad" checked={skipBadRecords} onChange={(e) => setSkipBadRecords(e.target.checked)} />
            <Rich text={ft.label(RUN_FIELDS.skipBadRecords)} />
          </label>
          <p className="hint">
            <Rich text={ft.help(RUN_FIELDS.skipBadRecords)} />
          </p>
        </div>
      )}
      <h3>{t.asModelSees}</h3>
      <p className="muted">
        <mark className="tok-trained">{t.highlighted}</mark>
        {t.highlightedRest}
      </p>
      <ol className="preview" data-testid="data-preview">
        {p.preview.map((ex) => (
          <li key={ex.line}>
            <span className="muted">{t.at(p.lineUnit, ex.line)}</span>
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
  const t = useT('data');
  const ft = useFieldText();
  return (
    <section className="card panel" data-testid="panel-data" aria-labelledby="data-title">
      <header className="card-header">
        <h2 id="data-title">{t.title}</h2>
        <PanelStatus status={status.state} testId="data-status" text={status.state === 'idle' ? t.noDataset : undefined} />
      </header>
      {!modelReady && <p className="muted">{t.needModel}</p>}
      <fieldset className="radio-row">
        <legend>{t.dataset}</legend>
        {SOURCES.map(({ kind, label }) => (
          <label key={kind}>
            <input type="radio" name="data-source" value={kind} checked={sourceKind === kind} onChange={() => setSourceKind(kind)} data-testid={`data-source-${kind}`} />
            {label(t)}
          </label>
        ))}
      </fieldset>
      {sourceKind === 'sample' && (
        <fieldset className="sample-list">
          <legend>{t.sampleDatasets}</legend>
          {SAMPLE_DATASETS.map((d) => (
            <label key={d.name} className="sample">
              <input type="radio" name="sample" value={d.name} checked={sampleName === d.name && status.state !== 'idle'} disabled={!modelReady} onChange={() => void chooseSample(d.name)} data-testid={`sample-${d.name}`} />
              <span>
                <strong>{t.sampleTitle(d.name, d.title)}</strong> <code>{d.shape}</code>
                <br />
                <span className="muted">{t.sampleDescription(d.name, d.description)}</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {sourceKind === 'file' && (
        <label>
          {t.fileLabel}
          <input type="file" accept=".jsonl,.json,.csv,.txt" disabled={!modelReady} data-testid="data-file" onChange={(e) => e.target.files?.[0] && void chooseFile(e.target.files[0])} />
        </label>
      )}
      {sourceKind === 'paste' && (
        <div>
          <label>
            {t.pasteLabel}
            <textarea rows={6} value={pasted} data-testid="data-paste" onChange={(e) => setPasted(e.target.value)} />
          </label>
          <button type="button" disabled={!modelReady || !pasted.trim()} onClick={() => void analyze()} data-testid="data-paste-use">
            {t.usePasted}
          </button>
        </div>
      )}
      <div className="row">
        <label>
          <Rich text={ft.label(RUN_FIELDS.maxLength)} />
          <input type="number" min={RUN_FIELDS.maxLength.min} step={1} value={maxLength} data-testid="data-max-length" onChange={(e) => setMaxLength(Number(e.target.value))} />
        </label>
        <button type="button" disabled={!modelReady || !spec} onClick={() => void analyze()} data-testid="data-analyze">
          {t.retokenize}
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
