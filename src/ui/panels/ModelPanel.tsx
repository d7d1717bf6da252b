import { WEIGHT_FORMATS, type WeightFormat } from '../../kernels/weight-format';
import { DEFAULT_MODEL } from '../../model-io/embedded';
import { formatBytes } from '../format';
import { useModel, type ModelSourceKind } from '../stores/model';
import { PanelStatus } from './PanelStatus';

const FORMAT_HELP: Record<WeightFormat, string> = {
  f32: 'f32: full precision',
  q8: 'q8: 8-bit, per-group scales',
  q4: 'q4: 4-bit, per-group scales',
  nf4: 'nf4: 4-bit NormalFloat (QLoRA)',
};

const SOURCES: ReadonlyArray<{ kind: ModelSourceKind; label: string }> = [
  { kind: 'default', label: 'Embedded default' },
  { kind: 'hub', label: 'Hugging Face Hub' },
  { kind: 'files', label: 'Local files' },
];

function SourceFields() {
  const { sourceKind, hubRepo, hubRevision, hubEndpoint, files, setHub, setFiles } = useModel();
  if (sourceKind === 'default') {
    return (
      <p className="muted" data-testid="model-default-note">
        {DEFAULT_MODEL.title}. It ships with the studio: nothing is downloaded.
      </p>
    );
  }
  if (sourceKind === 'hub') {
    return (
      <div className="field-grid">
        <label>
          Repo id
          <input data-testid="hub-repo" value={hubRepo} placeholder="HuggingFaceTB/SmolLM2-135M" onChange={(e) => setHub({ hubRepo: e.target.value })} />
        </label>
        <label>
          Revision
          <input data-testid="hub-revision" value={hubRevision} placeholder="main" onChange={(e) => setHub({ hubRevision: e.target.value })} />
        </label>
        <label className="wide">
          Endpoint (a mirror with the Hub's URL layout; empty for huggingface.co)
          <input data-testid="hub-endpoint" value={hubEndpoint} placeholder="https://huggingface.co" onChange={(e) => setHub({ hubEndpoint: e.target.value })} />
        </label>
      </div>
    );
  }
  return (
    <div className="field-grid">
      <label>
        Model files (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)
        <input data-testid="model-files" type="file" multiple onChange={(e) => setFiles(Array.from(e.target.files ?? []))} />
      </label>
      <label>
        Or a folder
        <input
          data-testid="model-folder"
          type="file"
          webkitdirectory=""
          onChange={(e) => setFiles(Array.from(e.target.files ?? []))}
        />
      </label>
      {files.length > 0 && <p className="muted wide">{files.length} file{files.length === 1 ? '' : 's'} chosen</p>}
    </div>
  );
}

export function ModelPanel() {
  const { sourceKind, format, status, setSourceKind, setFormat, load } = useModel();
  const info = status.state === 'ready' ? status.info : null;
  return (
    <section className="card panel" data-testid="panel-model" aria-labelledby="model-title">
      <header className="card-header">
        <h2 id="model-title">Model</h2>
        <PanelStatus status={status.state} testId="model-status" />
      </header>
      <fieldset className="radio-row">
        <legend>Source</legend>
        {SOURCES.map(({ kind, label }) => (
          <label key={kind}>
            <input type="radio" name="model-source" value={kind} checked={sourceKind === kind} onChange={() => setSourceKind(kind)} data-testid={`model-source-${kind}`} />
            {label}
          </label>
        ))}
      </fieldset>
      <SourceFields />
      <div className="row">
        <label>
          Weight format of the frozen weights
          <select data-testid="model-format" value={format} onChange={(e) => setFormat(e.target.value as WeightFormat)}>
            {WEIGHT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_HELP[f]}
                {info ? ` (${formatBytes(info.weightBytes[f])})` : ''}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="model-load" onClick={() => void load()} disabled={status.state === 'loading'}>
          {info && info.format !== format ? `Reload in ${format}` : 'Load model'}
        </button>
      </div>
      {status.state === 'loading' && (
        <div className="progress-list" data-testid="model-progress">
          <p className="muted">{status.message}</p>
          {status.files.map((f) => (
            <label key={f.file} className="progress-row">
              <span>{f.file}</span>
              <progress max={f.total ?? undefined} value={f.loaded} aria-label={`${f.file} download`} />
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
          <dt>Model</dt>
          <dd data-testid="model-name">{info.nameOrPath}</dd>
          <dt>Source</dt>
          <dd>{info.source}</dd>
          <dt>Architecture</dt>
          <dd data-testid="model-arch">{info.modelType}</dd>
          <dt>Layers</dt>
          <dd data-testid="model-layers">{info.numLayers}</dd>
          <dt>Hidden size</dt>
          <dd data-testid="model-hidden">{info.hiddenSize}</dd>
          <dt>Attention heads</dt>
          <dd>
            {info.numHeads} ({info.numKvHeads} key-value)
          </dd>
          <dt>Vocabulary</dt>
          <dd data-testid="model-vocab">{info.vocabSize.toLocaleString('en-US')}</dd>
          <dt>Context</dt>
          <dd>{info.contextLength} tokens</dd>
          <dt>Parameters</dt>
          <dd data-testid="model-params">{info.parameters.toLocaleString('en-US')}</dd>
          <dt>Weights on the GPU</dt>
          <dd data-testid="model-memory">
            {formatBytes(info.weightBytes[info.format])} in {info.format}
          </dd>
        </dl>
      )}
    </section>
  );
}
