import { Fragment } from 'react';
import { adapterSummary, formatBytes } from '../format';
import { MERGED_DTYPES, type MergedDtype } from '../../deploy/merged-dtype';
import { availableMethods } from '../../methods/registry';
import { trainableParametersLine } from '../../peft/trainable-params';
import { useAdapter } from '../stores/adapter';
import { useCompare } from '../stores/compare';
import { useData } from '../stores/data';
import { ADAPTER_FOLDER_FILES, adapterZipName, EXPORT_FILE, exportFileName, recipeZipName, useExport, type ExportTarget } from '../stores/export';
import { useMethod } from '../stores/method';
import { useModel } from '../stores/model';
import { adapterRunRecord, recipeBlocker } from '../stores/recipe-input';
import { useRuns } from '../stores/runs';
import { useTraining } from '../stores/training';
import { useHubPush, type PushWhat } from '../stores/hub-push';
import type { AdapterInfo } from '../../worker/protocol';
import { useT } from '../i18n';
import { Rich } from '../Rich';
import { PanelStatus } from './PanelStatus';
import './export.css';

function AdapterFacts({ adapter }: { adapter: AdapterInfo }) {
  const t = useT('export');
  return (
    <dl className="facts" data-testid="adapter-info">
      <dt>{t.origin}</dt>
      <dd data-testid="adapter-origin">{adapter.origin === 'trained' ? t.originTrained : t.originImported}</dd>
      <dt>{t.method}</dt>
      <dd data-testid="adapter-method">{adapter.label}</dd>
      {adapter.facts.map(([label, value]) => (
        <Fragment key={label}>
          <dt>
            <code>{label}</code>
          </dt>
          <dd data-testid={`adapter-fact-${label.replaceAll(' ', '-')}`}>{value}</dd>
        </Fragment>
      ))}
      <dt>{t.trainableParameters}</dt>
      <dd data-testid="adapter-params">
        <code>{trainableParametersLine(adapter.trainableParameters, adapter.allParameters)}</code>
      </dd>
    </dl>
  );
}

/** The methods an import reads, from adapter_config.json's peft_type. */
const IMPORTABLE_METHODS = availableMethods().map((m) => `${m.label} (${m.peftType})`);

const BUTTONS: ReadonlyArray<{ target: Exclude<ExportTarget, 'zip'>; testId: string }> = [
  { target: 'config', testId: 'export-config' },
  { target: 'weights', testId: 'export-weights' },
  { target: 'card', testId: 'export-card' },
];

/** The loaded model with the adapter merged into its weights, as one zip of a Hugging Face model folder. */
function MergedDownload() {
  const t = useT('export');
  const { busy, mergedDtype, setMergedDtype, downloadMerged } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const refused = adapter?.mergeRefusal ?? null;
  return (
    <>
      <h3>{t.mergedHeading}</h3>
      <div className="row export-buttons">
        <label>
          {t.dtype}{' '}
          <select data-testid="export-merged-dtype" value={mergedDtype} disabled={busy !== null} onChange={(e) => setMergedDtype(e.target.value as MergedDtype)}>
            {MERGED_DTYPES.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="export-merged" disabled={!adapter || !modelReady || refused !== null || busy !== null} onClick={() => void downloadMerged()}>
          {t.mergedButton}
        </button>
        {busy?.kind === 'merged' && (
          <span className="muted" data-testid="export-merged-progress" aria-live="polite">
            {busy.progress}
          </span>
        )}
      </div>
      <p className="hint" data-testid="export-merged-hint">
        {refused ? t.mergeRefused(adapter!.label, refused) : t.mergedHint}
      </p>
    </>
  );
}

/** The merged model as ONNX for transformers.js, and transformers.js itself run on it in this page. */
function OnnxDownload() {
  const t = useT('export');
  const { busy, onnxVariants, setOnnxVariant, downloadOnnx, transformersJs, runTransformersJs } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelReady = useModel((s) => s.status.state === 'ready');
  const prompt = useCompare((s) => s.prompt);
  const maxNewTokens = useCompare((s) => s.settings.maxNewTokens);
  const refused = adapter?.mergeRefusal ?? null;
  const unavailable = !adapter || !modelReady || refused !== null;
  return (
    <>
      <h3>{t.onnxHeading}</h3>
      <div className="row export-buttons">
        {(['q8', 'q4'] as const).map((q) => (
          <label className="check" key={q}>
            <input type="checkbox" data-testid={`export-onnx-${q}`} checked={onnxVariants[q]} disabled={busy !== null} onChange={(e) => setOnnxVariant(q, e.target.checked)} /> {q}
          </label>
        ))}
        <button type="button" data-testid="export-onnx" disabled={unavailable || busy !== null} onClick={() => void downloadOnnx()}>
          {t.onnxButton}
        </button>
        <button
          type="button"
          className="secondary"
          data-testid="export-transformers-js"
          disabled={unavailable || transformersJs.state === 'running' || prompt.trim() === ''}
          onClick={() => void runTransformersJs(prompt, maxNewTokens)}
        >
          {t.runTransformersJs}
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
        {refused ? t.onnxRefused(adapter!.label, refused) : t.onnxHint}
      </p>
    </>
  );
}

/**
 * The current run as a recipe that trains it again on GPU machines (transformers, PEFT, accelerate): disabled, with
 * the reason, until a model and a dataset are there; the hint says whose settings it takes and, for a model that is
 * not on the Hub, that the GPU machine needs a copy.
 */
function RecipeDownload() {
  const t = useT('export');
  const { busy, downloadRecipe } = useExport();
  const model = useModel((s) => s.status);
  const data = useData((s) => s.spec);
  const adapter = useAdapter((s) => s.adapter);
  const chosenMethod = useMethod((s) => s.methodId);
  const opened = useRuns((s) => s.opened);
  const records = useRuns((s) => s.records);
  const trainingState = useTraining((s) => s.state);
  const recordId = useTraining((s) => s.recordId);
  const blocked = recipeBlocker(model, data);
  const record = adapterRunRecord(adapter, { opened, records }, { state: trainingState, recordId });
  const info = model.state === 'ready' ? model : null;
  const method = adapter?.method ?? chosenMethod;
  return (
    <>
      <h3>{t.recipeHeading}</h3>
      <div className="row export-buttons">
        <button type="button" data-testid="export-recipe" disabled={blocked !== null || busy !== null} onClick={() => downloadRecipe()}>
          {t.recipeButton(recipeZipName(info?.info.nameOrPath ?? 'model', method))}
        </button>
      </div>
      <p className="hint" data-testid="export-recipe-hint">
        {blocked ?? <Rich text={t.recipeHint(adapter?.label ?? null, record?.name ?? null)} />}
      </p>
      {info && info.spec.kind !== 'hub' && (
        <p className="hint" data-testid="export-recipe-local">
          <Rich text={t.recipeLocalModel(info.info.nameOrPath)} />
        </p>
      )}
    </>
  );
}

/** Push the adapter (or the merged model) to a Hub model repo; the token stays in memory unless remembered. */
function HubPush() {
  const t = useT('export');
  const { repo, token, remember, endpoint, what, progress, error, pushedUrl, set, setRemember, push } = useHubPush();
  const adapter = useAdapter((s) => s.adapter);
  const exportBusy = useExport((s) => s.busy);
  const canMerge = adapter !== null && adapter.mergeRefusal === null;
  return (
    <>
      <h3>{t.pushHeading}</h3>
      <div className="row export-buttons">
        <label>
          {t.repo}{' '}
          <input data-testid="push-repo" value={repo} placeholder={t.repoPlaceholder} onChange={(e) => set({ repo: e.target.value })} />
        </label>
        <label>
          {t.token}{' '}
          <input data-testid="push-token" type="password" autoComplete="off" value={token} placeholder="hf_…" onChange={(e) => set({ token: e.target.value })} />
        </label>
        <label className="check">
          <input type="checkbox" data-testid="push-remember" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> {t.rememberToken}
        </label>
      </div>
      <div className="row export-buttons">
        <label>
          {t.pushWhat}{' '}
          <select data-testid="push-what" value={what} onChange={(e) => set({ what: e.target.value as PushWhat })}>
            <option value="adapter">{t.pushAdapter}</option>
            <option value="merged" disabled={!canMerge}>
              {t.pushMerged}
            </option>
            <option value="onnx" disabled={!canMerge}>
              {t.pushOnnx}
            </option>
          </select>
        </label>
        <label>
          {t.hub}{' '}
          <input data-testid="push-endpoint" value={endpoint} placeholder="https://huggingface.co" onChange={(e) => set({ endpoint: e.target.value })} />
        </label>
        <button
          type="button"
          data-testid="push-start"
          disabled={!adapter || progress !== null || exportBusy !== null || repo.trim() === '' || token.trim() === ''}
          onClick={() => void push()}
        >
          {t.pushButton}
        </button>
      </div>
      <p className="hint">{t.pushHint}</p>
      {progress !== null && (
        <p className="muted" data-testid="push-progress" aria-live="polite">
          {progress}
        </p>
      )}
      {pushedUrl && (
        <p className="export-ok" role="status" data-testid="push-done">
          {t.pushedTo}{' '}
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
  const t = useT('export');
  const { busy, error, exported, imported, download, importFiles } = useExport();
  const adapter = useAdapter((s) => s.adapter);
  const modelStatus = useModel((s) => s.status);
  const info = modelStatus.state === 'ready' ? modelStatus.info : null;
  const zipName = adapterZipName(info?.nameOrPath ?? 'model', adapter?.method ?? 'lora');
  const status = busy ? 'running' : error ? 'error' : adapter ? 'ready' : 'idle';
  const statusText = busy
    ? busy.kind === 'import'
      ? t.statusImporting
      : busy.kind === 'merged'
        ? t.statusMerging
        : t.statusExporting
    : status === 'idle'
      ? t.statusNoAdapter
      : status === 'ready'
        ? t.statusReady
        : undefined;
  return (
    <section className="card panel" data-testid="panel-export" aria-labelledby="export-title">
      <header className="card-header">
        <h2 id="export-title">{t.title}</h2>
        <PanelStatus status={status} testId="export-status" text={statusText} />
      </header>
      {adapter ? (
        <AdapterFacts adapter={adapter} />
      ) : (
        <p className="muted" data-testid="adapter-none">
          {t.noAdapter}
        </p>
      )}

      <h3>{t.downloadHeading}</h3>
      <div className="row export-buttons">
        <button type="button" data-testid="export-zip" disabled={!adapter || busy !== null} onClick={() => void download('zip')}>
          {t.allThree(zipName)}
        </button>
        {BUTTONS.map((b) => (
          <button key={b.target} type="button" className="secondary" data-testid={b.testId} disabled={!adapter || busy !== null} onClick={() => void download(b.target)}>
            {b.target === 'card' ? t.modelCardButton(EXPORT_FILE.card) : exportFileName(b.target, adapter?.method)}
          </button>
        ))}
      </div>
      <p className="hint">
        <Rich text={t.folderHint(info ? info.nameOrPath : null, ADAPTER_FOLDER_FILES)} />
      </p>
      {exported && (
        <p className="muted" data-testid="export-done" aria-live="polite">
          {t.saved(exported.fileName, formatBytes(exported.bytes))}
        </p>
      )}

      <MergedDownload />
      <OnnxDownload />
      <RecipeDownload />

      <HubPush />

      <h3>{t.importHeading}</h3>
      <p className="hint">{t.importable(IMPORTABLE_METHODS)}</p>
      <label>
        {t.importFilesLabel}
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
      {!info && <p className="hint">{t.importNeedsModel}</p>}
      {imported && (
        <p className="export-ok" role="status" data-testid="import-status">
          {t.imported(imported.files, adapterSummary(imported.adapter), imported.adapter.trainableParameters)}
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
