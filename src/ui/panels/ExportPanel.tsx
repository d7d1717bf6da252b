import { Fragment } from 'react';
import { adapterSummary, formatBytes } from '../format';
import { MERGED_DTYPES, type MergedDtype } from '../../deploy/merged-dtype';
import { availableMethods } from '../../methods/registry';
import { trainableParametersLine } from '../../peft/trainable-params';
import { useAdapter } from '../stores/adapter';
import { useCompare } from '../stores/compare';
import { ADAPTER_FOLDER_FILES, adapterZipName, EXPORT_FILE, useExport, type ExportTarget } from '../stores/export';
import { useModel } from '../stores/model';
import { useHubPush, type PushWhat } from '../stores/hub-push';
import type { AdapterInfo } from '../../worker/protocol';
import { PanelStatus } from './PanelStatus';
import './export.css';

function AdapterFacts({ adapter }: { adapter: AdapterInfo }) {
  return (
    <dl className="facts" data-testid="adapter-info">
      <dt>Origin</dt>
      <dd data-testid="adapter-origin">{adapter.origin === 'trained' ? 'trained in this session' : 'imported'}</dd>
      <dt>Method</dt>
      <dd data-testid="adapter-method">{adapter.label}</dd>
      {adapter.facts.map(([label, value]) => (
        <Fragment key={label}>
          <dt>
            <code>{label}</code>
          </dt>
          <dd data-testid={`adapter-fact-${label.replaceAll(' ', '-')}`}>{value}</dd>
        </Fragment>
      ))}
      <dt>Trainable parameters</dt>
      <dd data-testid="adapter-params">
        <code>{trainableParametersLine(adapter.trainableParameters, adapter.allParameters)}</code>
      </dd>
    </dl>
  );
}

/** The methods an import reads, from adapter_config.json's peft_type. */
const IMPORTABLE = `An adapter of ${availableMethods()
  .map((m) => `${m.label} (${m.peftType})`)
  .join(', ')}: adapter_config.json's peft_type says which.`;

const BUTTONS: ReadonlyArray<{ target: Exclude<ExportTarget, 'zip'>; testId: string; label: string }> = [
  { target: 'config', testId: 'export-config', label: EXPORT_FILE.config },
  { target: 'weights', testId: 'export-weights', label: EXPORT_FILE.weights },
  { target: 'card', testId: 'export-card', label: `${EXPORT_FILE.card} (model card)` },
];

/** The loaded model with the adapter merged into its weights, as one zip of a Hugging Face model folder. */
function MergedDownload() {
  const { busy, mergedDtype, setMergedDtype, downloadMerged } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const refused = adapter?.mergeRefusal ?? null;
  return (
    <>
      <h3>Download the merged model</h3>
      <div className="row export-buttons">
        <label>
          dtype{' '}
          <select data-testid="export-merged-dtype" value={mergedDtype} disabled={busy !== null} onChange={(e) => setMergedDtype(e.target.value as MergedDtype)}>
            {MERGED_DTYPES.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="export-merged" disabled={!adapter || !modelReady || refused !== null || busy !== null} onClick={() => void downloadMerged()}>
          Merged model (.zip)
        </button>
        {busy?.kind === 'merged' && (
          <span className="muted" data-testid="export-merged-progress" aria-live="polite">
            {busy.progress}
          </span>
        )}
      </div>
      <p className="hint" data-testid="export-merged-hint">
        {refused
          ? `A ${adapter!.label} adapter cannot be merged: ${refused}.`
          : 'The base model with the adapter folded into its weights, as PEFT\'s merge_and_unload does, read again from the model\'s source: config.json, generation_config.json, the tokenizer files and model.safetensors, which AutoModelForCausalLM.from_pretrained (and this studio) load without PEFT.'}
      </p>
    </>
  );
}

/** The merged model as ONNX for transformers.js, and transformers.js itself run on it in this page. */
function OnnxDownload() {
  const { busy, onnxVariants, setOnnxVariant, downloadOnnx, transformersJs, runTransformersJs } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const prompt = useCompare((s) => s.prompt);
  const maxNewTokens = useCompare((s) => s.settings.maxNewTokens);
  const refused = adapter?.mergeRefusal ?? null;
  const unavailable = !adapter || !modelReady || refused !== null;
  return (
    <>
      <h3>ONNX for transformers.js</h3>
      <div className="row export-buttons">
        {(['q8', 'q4'] as const).map((q) => (
          <label className="check" key={q}>
            <input type="checkbox" data-testid={`export-onnx-${q}`} checked={onnxVariants[q]} disabled={busy !== null} onChange={(e) => setOnnxVariant(q, e.target.checked)} /> {q}
          </label>
        ))}
        <button type="button" data-testid="export-onnx" disabled={unavailable || busy !== null} onClick={() => void downloadOnnx()}>
          ONNX folder (.zip)
        </button>
        <button
          type="button"
          className="secondary"
          data-testid="export-transformers-js"
          disabled={unavailable || transformersJs.state === 'running' || prompt.trim() === ''}
          onClick={() => void runTransformersJs(prompt, maxNewTokens)}
        >
          Run it in transformers.js
        </button>
        {busy?.kind === 'onnx' && (
          <span className="muted" data-testid="export-onnx-progress" aria-live="polite">
            {busy.progress}
          </span>
        )}
      </div>
      {transformersJs.state === 'running' && (
        <p className="muted" aria-live="polite">
          {transformersJs.progress}
        </p>
      )}
      {transformersJs.state === 'done' && (
        <pre className="export-transformers-js" data-testid="export-transformers-js-text">
          {transformersJs.text}
        </pre>
      )}
      {transformersJs.state === 'error' && (
        <p className="error" role="alert" data-testid="export-transformers-js-error">
          {transformersJs.message}
        </p>
      )}
      <p className="hint" data-testid="export-onnx-hint">
        {refused
          ? `A ${adapter!.label} adapter cannot be exported as ONNX: ${refused}.`
          : "The merged model as one ONNX graph with a KV cache, in the folders @huggingface/transformers (onnx/model.onnx) and @xenova/transformers 2 (onnx/decoder_model_merged.onnx) load for pipeline('text-generation'); q8 and q4 add the quantized files under their names. \"Run it\" loads the folder with @xenova/transformers in this page, on the Compare prompt, greedy."}
      </p>
    </>
  );
}

/** Push the adapter (or the merged model) to a Hub model repo; the token stays in memory unless remembered. */
function HubPush() {
  const { repo, token, remember, endpoint, what, progress, error, pushedUrl, set, setRemember, push } = useHubPush();
  const adapter = useAdapter((s) => s.adapter);
  const exportBusy = useExport((s) => s.busy);
  const canMerge = adapter !== null && adapter.mergeRefusal === null;
  return (
    <>
      <h3>Push to the Hugging Face Hub</h3>
      <div className="row export-buttons">
        <label>
          repo{' '}
          <input data-testid="push-repo" value={repo} placeholder="owner/name" onChange={(e) => set({ repo: e.target.value })} />
        </label>
        <label>
          token{' '}
          <input data-testid="push-token" type="password" autoComplete="off" value={token} placeholder="hf_…" onChange={(e) => set({ token: e.target.value })} />
        </label>
        <label className="check">
          <input type="checkbox" data-testid="push-remember" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> remember the token in this browser
        </label>
      </div>
      <div className="row export-buttons">
        <label>
          push{' '}
          <select data-testid="push-what" value={what} onChange={(e) => set({ what: e.target.value as PushWhat })}>
            <option value="adapter">the adapter (PEFT format)</option>
            <option value="merged" disabled={!canMerge}>
              the merged model (dtype above)
            </option>
            <option value="onnx" disabled={!canMerge}>
              the ONNX folder (variants above)
            </option>
          </select>
        </label>
        <label>
          Hub{' '}
          <input data-testid="push-endpoint" value={endpoint} placeholder="https://huggingface.co" onChange={(e) => set({ endpoint: e.target.value })} />
        </label>
        <button
          type="button"
          data-testid="push-start"
          disabled={!adapter || progress !== null || exportBusy !== null || repo.trim() === '' || token.trim() === ''}
          onClick={() => void push()}
        >
          Push
        </button>
      </div>
      <p className="hint">
        The repo is created when it does not exist; the files go up in one commit. The token needs write access; it is kept in memory only,
        unless remembered.
      </p>
      {progress !== null && (
        <p className="muted" data-testid="push-progress" aria-live="polite">
          {progress}
        </p>
      )}
      {pushedUrl && (
        <p className="export-ok" role="status" data-testid="push-done">
          Pushed to{' '}
          <a data-testid="push-url" href={pushedUrl} target="_blank" rel="noreferrer">
            {pushedUrl}
          </a>
        </p>
      )}
      {error && (
        <p className="error" role="alert" data-testid="push-error">
          {error.message}
        </p>
      )}
    </>
  );
}

export function ExportPanel() {
  const { busy, error, exported, imported, download, importFiles } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelStatus = useModel((s) => s.status);
  const info = modelStatus.state === 'ready' ? modelStatus.info : null;
  const zipName = adapterZipName(info?.nameOrPath ?? 'model', adapter?.method ?? 'lora');
  const status = busy ? 'running' : error ? 'error' : adapter ? 'ready' : 'idle';
  const statusText = busy ? (busy.kind === 'import' ? 'importing…' : busy.kind === 'merged' ? 'merging…' : 'exporting…') : status === 'idle' ? 'no adapter' : status === 'ready' ? 'adapter ready' : undefined;
  return (
    <section className="card panel" data-testid="panel-export" aria-labelledby="export-title">
      <header className="card-header">
        <h2 id="export-title">Export</h2>
        <PanelStatus status={status} testId="export-status" text={statusText} />
      </header>
      {adapter ? (
        <AdapterFacts adapter={adapter} />
      ) : (
        <p className="muted" data-testid="adapter-none">
          No adapter yet: train one in the Training panel, or import one below.
        </p>
      )}

      <h3>Download (PEFT format)</h3>
      <div className="row export-buttons">
        <button type="button" data-testid="export-zip" disabled={!adapter || busy !== null} onClick={() => void download('zip')}>
          All three as {zipName}
        </button>
        {BUTTONS.map((b) => (
          <button key={b.target} type="button" className="secondary" data-testid={b.testId} disabled={!adapter || busy !== null} onClick={() => void download(b.target)}>
            {b.label}
          </button>
        ))}
      </div>
      <p className="hint">
        Unzipped, the folder loads with <code>PeftModel.from_pretrained(base_model, folder)</code>
        {info ? (
          <>
            {' '}
            on <code>{info.nameOrPath}</code>
          </>
        ) : null}
        . It holds {ADAPTER_FOLDER_FILES.join(', ')}.
      </p>
      {exported && (
        <p className="muted" data-testid="export-done" aria-live="polite">
          Saved {exported.fileName} ({formatBytes(exported.bytes)}).
        </p>
      )}

      <MergedDownload />
      <OnnxDownload />

      <HubPush />

      <h3>Import a PEFT adapter</h3>
      <p className="hint">{IMPORTABLE}</p>
      <label>
        adapter_config.json and adapter_model.safetensors, or a .zip of the adapter folder
        <input
          type="file"
          multiple
          accept=".json,.safetensors,.zip"
          data-testid="import-files"
          disabled={!info || busy !== null}
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            void importFiles(files);
          }}
        />
      </label>
      {!info && <p className="hint">Load the adapter's base model first: the import checks every tensor against it.</p>}
      {imported && (
        <p className="export-ok" role="status" data-testid="import-status">
          Imported {imported.files.join(', ')}: {adapterSummary(imported.adapter)},{' '}
          {imported.adapter.trainableParameters.toLocaleString('en-US')} parameters. The Compare panel now uses it, and training can continue from it.
        </p>
      )}
      {error && (
        <p className="error" role="alert" data-testid="export-error">
          {error.message}
        </p>
      )}
    </section>
  );
}
