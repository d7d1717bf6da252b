import { WEIGHT_FORMATS, type WeightFormat } from '../../kernels/weight-format';
import { DEFAULT_MODEL } from '../../model-io/embedded';
import { formatBytes } from '../format';
import { useT, type MessagesOf } from '../i18n';
import { useModel, type ModelSourceKind } from '../stores/model';
import { MemoryPlanSection } from './MemoryPlan';
import { PanelStatus } from './PanelStatus';

type ModelMessages = MessagesOf<'model'>;

const FORMAT_HELP: Record<WeightFormat, (t: ModelMessages) => string> = {
  f32: (t) => t.formatF32,
  q8: (t) => t.formatQ8,
  q4: (t) => t.formatQ4,
  nf4: (t) => t.formatNf4,
};

const SOURCES: ReadonlyArray<{ kind: ModelSourceKind; label: (t: ModelMessages) => string }> = [
  { kind: 'default', label: (t) => t.sourceDefault },
  { kind: 'hub', label: (t) => t.sourceHub },
  { kind: 'files', label: (t) => t.sourceFiles },
];

function SourceFields() {
  const t = useT('model');
  const { sourceKind, hubRepo, hubRevision, hubEndpoint, files, setHub, setFiles } = useModel();
  if (sourceKind === 'default') {
    return (
      <p className="muted" data-testid="model-default-note">
        {t.defaultNote(DEFAULT_MODEL.id, DEFAULT_MODEL.title)}
      </p>
    );
  }
  if (sourceKind === 'hub') {
    return (
      <div className="field-grid">
        <label>
          {t.hubRepo}
          <input data-testid="hub-repo" value={hubRepo} placeholder="HuggingFaceTB/SmolLM2-135M" onChange={(e) => setHub({ hubRepo: e.target.value })} />
        </label>
        <label>
          {t.hubRevision}
          <input data-testid="hub-revision" value={hubRevision} placeholder="main" onChange={(e) => setHub({ hubRevision: e.target.value })} />
        </label>
        <label className="wide">
          {t.hubEndpoint}
          <input data-testid="hub-endpoint" value={hubEndpoint} placeholder="https://huggingface.co" onChange={(e) => setHub({ hubEndpoint: e.target.value })} />
        </label>
      </div>
    );
  }
  return (
    <div className="field-grid">
      <label>
        {t.modelFiles}
        <input data-testid="model-files" type="file" multiple onChange={(e) => setFiles(Array.from(e.target.files ?? []))} />
      </label>
      <label>
        {t.modelFolder}
        <input
          data-testid="model-folder"
          type="file"
          webkitdirectory=""
          onChange={(e) => setFiles(Array.from(e.target.files ?? []))}
        />
      </label>
      {files.length > 0 && <p className="muted wide">{t.filesChosen(files.length)}</p>}
    </div>
  );
}

export function ModelPanel() {
  const t = useT('model');
  const { sourceKind, format, status, setSourceKind, setFormat, load } = useModel();
  const info = status.state === 'ready' ? status.info : null;
  return (
    <section className="card panel" data-testid="panel-model" aria-labelledby="model-title">
      <header className="card-header">
        <h2 id="model-title">{t.title}</h2>
        <PanelStatus status={status.state} testId="model-status" />
      </header>
      <fieldset className="radio-row">
        <legend>{t.source}</legend>
        {SOURCES.map(({ kind, label }) => (
          <label key={kind}>
            <input type="radio" name="model-source" value={kind} checked={sourceKind === kind} onChange={() => setSourceKind(kind)} data-testid={`model-source-${kind}`} />
            {label(t)}
          </label>
        ))}
      </fieldset>
      <SourceFields />
      <div className="row">
        <label>
          {t.weightFormat}
          <select data-testid="model-format" value={format} onChange={(e) => setFormat(e.target.value as WeightFormat)}>
            {WEIGHT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_HELP[f](t)}
                {info ? t.formatSize(formatBytes(info.weightBytes[f])) : ''}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="model-load" onClick={() => void load()} disabled={status.state === 'loading'}>
          {info && info.format !== format ? t.reloadIn(format) : t.load}
        </button>
      </div>
      {status.state === 'loading' && (
        <div className="progress-list" data-testid="model-progress">
          <p className="muted">{status.message}</p>
          {status.files.map((f) => (
            <label key={f.file} className="progress-row">
              <span>{f.file}</span>
              <progress max={f.total ?? undefined} value={f.loaded} aria-label={t.fileDownload(f.file)} />
              <span className="muted">
                {formatBytes(f.loaded)}
                {f.total !== null ? ` / ${formatBytes(f.total)}` : ''}
              </span>
            </label>
          ))}
        </div>
      )}
      {status.state === 'error' && (
        <p className="error" role="alert" data-testid="model-error">
          {status.error.message}
        </p>
      )}
      {info && (
        <dl className="facts" data-testid="model-info">
          <dt>{t.factModel}</dt>
          <dd data-testid="model-name">{info.nameOrPath}</dd>
          <dt>{t.factSource}</dt>
          <dd>{info.source}</dd>
          <dt>{t.factArchitecture}</dt>
          <dd data-testid="model-arch">{info.modelType}</dd>
          <dt>{t.factLayers}</dt>
          <dd data-testid="model-layers">{info.numLayers}</dd>
          <dt>{t.factHidden}</dt>
          <dd data-testid="model-hidden">{info.hiddenSize}</dd>
          <dt>{t.factHeads}</dt>
          <dd>{t.heads(info.numHeads, info.numKvHeads)}</dd>
          <dt>{t.factVocab}</dt>
          <dd data-testid="model-vocab">{info.vocabSize.toLocaleString('en-US')}</dd>
          <dt>{t.factContext}</dt>
          <dd>{t.tokens(info.contextLength)}</dd>
          <dt>{t.factParameters}</dt>
          <dd data-testid="model-params">{info.parameters.toLocaleString('en-US')}</dd>
          <dt>{t.factWeights}</dt>
          <dd data-testid="model-memory">{t.weightsIn(formatBytes(info.weightBytes[info.format]), info.format)}</dd>
        </dl>
      )}
      <MemoryPlanSection />
    </section>
  );
}
