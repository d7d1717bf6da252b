/**
 * The Export panel's state: downloading the worker's current adapter in PEFT's format (each file, or all three in a
 * zip that unpacks to a folder `PeftModel.from_pretrained` loads), the merged model and its ONNX export, the current
 * run as a recipe for GPU machines (src/recipe), and importing a PEFT adapter (the files, their folder's zip) as the
 * worker's current adapter.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { create } from 'zustand';
import { ADAPTER_CONFIG_FILE, ADAPTER_PICKLE_FILE, ADAPTER_WEIGHTS_FILE, ADAPTERHUB_WEIGHTS_FILE, MODEL_CARD_FILE } from '../../peft/adapter-files';
import type { MergedDtype } from '../../deploy/merged-dtype';
import type { OnnxQuant } from '../../deploy/onnx/onnx-quant';
import type { MethodId } from '../../methods/method';
import { buildRecipe } from '../../recipe/build-recipe';
import type { AdapterInfo } from '../../worker/protocol';
import { tr } from '../i18n';
import { useAdapter } from './adapter';
import { useModel } from './model';
import { studioRecipeInput } from './recipe-input';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

// ------------------------------------------------------------------------------------------ pure helpers

/** The files of a PEFT adapter folder, in the order they are offered. */
export const ADAPTER_FOLDER_FILES = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, MODEL_CARD_FILE] as const;

/** Files an import reads from a zip (the pickle only so that the worker can say why it is refused). */
const IMPORTED_FROM_ZIP = new Set<string>([ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_PICKLE_FILE, ADAPTERHUB_WEIGHTS_FILE]);

export class AdapterZipError extends Error {
  override name = 'AdapterZipError';
}

/**
 * `<model name>-<method id>-adapter.zip` (austen-2m-lora-adapter.zip, austen-2m-prompt-tuning-adapter.zip), the
 * model name being the last part of a repo id or path, made file-name safe.
 */
export function adapterZipName(modelNameOrPath: string, method: MethodId): string {
  return `${safeModelName(modelNameOrPath)}-${method}-adapter.zip`;
}

/** `<model name>-<method id>-onnx.zip` (austen-2m-lora-onnx.zip): the ONNX folder for transformers.js. */
export function onnxZipName(modelNameOrPath: string, method: MethodId): string {
  return `${safeModelName(modelNameOrPath)}-${method}-onnx.zip`;
}

/** `<model name>-<method id>-merged-<dtype>.zip` (austen-2m-lora-merged-f16.zip): the merged model's folder. */
export function mergedZipName(modelNameOrPath: string, method: MethodId, dtype: MergedDtype): string {
  return `${safeModelName(modelNameOrPath)}-${method}-merged-${dtype.toLowerCase()}.zip`;
}

/** `<model name>-<method id>-recipe.zip` (austen-2m-lora-recipe.zip): the run as a recipe for GPU machines. */
export function recipeZipName(modelNameOrPath: string, method: MethodId): string {
  return `${safeModelName(modelNameOrPath)}-${method}-recipe.zip`;
}

/** The last part of a repo id or path, made file-name safe ("model" when nothing is left). */
function safeModelName(modelNameOrPath: string): string {
  const last = modelNameOrPath.split(/[\\/]/).filter((p) => p !== '').pop() ?? '';
  return last.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'model';
}

/** A zip of the files by relative path, '/'-separated (safetensors stored, the rest deflated). */
export function buildFolderZip(files: Record<string, Uint8Array>): Uint8Array {
  const entries: Zippable = {};
  for (const [name, bytes] of Object.entries(files)) entries[name] = [bytes, { level: name.endsWith('.safetensors') ? 0 : 6 }];
  return zipSync(entries);
}

/** Zip entries that are not part of the content (macOS resource forks, Finder and Explorer files). */
function isJunk(path: string): boolean {
  return path.startsWith('__MACOSX/') || /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini)$/i.test(path);
}

/**
 * The adapter files of a zip, by file name: those at its root, or, when the root has no adapter_config.json, those
 * directly inside its single top-level folder. Throws an AdapterZipError naming the zip when there is none.
 */
export function adapterFilesFromZip(zip: Uint8Array, zipName: string): Record<string, Uint8Array> {
  let entries: Record<string, Uint8Array>;
  try {
    // Only files at depth 0 or 1 with an adapter file's name are inflated.
    entries = unzipSync(zip, {
      filter: (f) => {
        const parts = f.name.split('/');
        return parts.length <= 2 && IMPORTED_FROM_ZIP.has(parts[parts.length - 1]) && !isJunk(f.name);
      },
    });
  } catch (e) {
    throw new AdapterZipError(tr('export').zipUnreadable(zipName, (e as Error).message));
  }
  const listing = listZip(zip);
  const pick = (prefix: string): Record<string, Uint8Array> => {
    const out: Record<string, Uint8Array> = {};
    for (const [path, bytes] of Object.entries(entries)) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      if (rest !== '' && !rest.includes('/')) out[rest] = bytes;
    }
    return out;
  };
  const root = pick('');
  if (ADAPTER_CONFIG_FILE in root) return root;
  const folders = new Set(listing.filter((p) => p.includes('/')).map((p) => p.split('/')[0]));
  if (folders.size === 1) {
    const [folder] = folders;
    const inFolder = pick(`${folder}/`);
    if (ADAPTER_CONFIG_FILE in inFolder) return inFolder;
    throw new AdapterZipError(tr('export').zipFolderWithoutConfig(zipName, folder, ADAPTER_CONFIG_FILE));
  }
  throw new AdapterZipError(tr('export').zipWithoutConfig(zipName, ADAPTER_CONFIG_FILE, listing));
}

/** The zip's file paths (no folder entries, no junk). */
function listZip(zip: Uint8Array): string[] {
  const names: string[] = [];
  unzipSync(zip, {
    filter: (f) => {
      if (!f.name.endsWith('/') && !isJunk(f.name)) names.push(f.name);
      return false;
    },
  });
  return names;
}

/** The files to send to `adapter-import`: loose files as they are, each zip replaced by its adapter files. */
export async function expandAdapterUpload(files: readonly File[]): Promise<File[]> {
  const out: File[] = [];
  for (const file of files) {
    if (!/\.zip$/i.test(file.name)) {
      out.push(file);
      continue;
    }
    const inner = adapterFilesFromZip(new Uint8Array(await file.arrayBuffer()), file.name);
    for (const [name, bytes] of Object.entries(inner)) out.push(new File([bytes as Uint8Array<ArrayBuffer>], name));
  }
  return out;
}

const MIME: Record<string, string> = {
  '.json': 'application/json',
  '.md': 'text/markdown',
  '.zip': 'application/zip',
};

/** Saves bytes as a file through a Blob URL and an <a download> element. */
export function downloadBytes(fileName: string, bytes: Uint8Array): void {
  const ext = /\.[^.]+$/.exec(fileName)?.[0].toLowerCase() ?? '';
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: MIME[ext] ?? 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has started from the URL by now; give slow browsers a moment before it goes.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ------------------------------------------------------------------------------------------------ store

export type ExportTarget = 'config' | 'weights' | 'card' | 'zip';

export const EXPORT_FILE: Record<Exclude<ExportTarget, 'zip'>, string> = {
  config: ADAPTER_CONFIG_FILE,
  weights: ADAPTER_WEIGHTS_FILE,
  card: MODEL_CARD_FILE,
};

/** The file a single-file download writes, by the method's format: AdapterHub's adapter.safetensors for bottleneck adapters. */
export function exportFileName(target: Exclude<ExportTarget, 'zip'>, method: MethodId | undefined): string {
  return target === 'weights' && method === 'bottleneck' ? ADAPTERHUB_WEIGHTS_FILE : EXPORT_FILE[target];
}

export type ExportBusy = { kind: 'export'; target: ExportTarget } | { kind: 'merged' | 'onnx'; progress: string } | { kind: 'import' } | null;

/** The ONNX download's quantized variants (next to the float32 model). */
export type OnnxVariants = Record<Exclude<OnnxQuant, 'none'>, boolean>;

/** transformers.js run on the ONNX export in this page. */
export type TransformersJsRun = { state: 'idle' } | { state: 'running'; progress: string } | { state: 'done'; prompt: string; text: string } | { state: 'error'; message: string };

export interface ExportState {
  busy: ExportBusy;
  error: ErrorInfo | null;
  /** The last download, e.g. "austen-2m-lora-adapter.zip (3 files, 52 KiB)". */
  exported: { fileName: string; bytes: number } | null;
  /** The last import that succeeded. */
  imported: { files: string[]; adapter: AdapterInfo } | null;
  /** Downloads the worker's current adapter: one file, or all three as a zip. */
  download(target: ExportTarget): Promise<void>;
  /** model.safetensors' dtype for a merged download. */
  mergedDtype: MergedDtype;
  setMergedDtype(dtype: MergedDtype): void;
  /** Downloads the loaded model with the current adapter merged in (Hugging Face's layout) as one zip. */
  downloadMerged(): Promise<void>;
  onnxVariants: OnnxVariants;
  setOnnxVariant(quant: keyof OnnxVariants, on: boolean): void;
  /** Downloads the merged model as ONNX for transformers.js (both layouts, with the chosen variants) as one zip. */
  downloadOnnx(): Promise<void>;
  transformersJs: TransformersJsRun;
  /** Loads the ONNX export with @xenova/transformers' pipeline('text-generation') in this page and runs `prompt` greedily. */
  runTransformersJs(prompt: string, maxNewTokens: number): Promise<void>;
  /**
   * Downloads the current run as a recipe for GPU machines (train.py, the data, requirements.txt, accelerate configs,
   * README) in one zip; built on the page, from what the stores hold (stores/recipe-input.ts).
   */
  downloadRecipe(): void;
  /** Makes the adapter in these files (adapter_config.json + adapter_model.safetensors, or their zip) the current one. */
  importFiles(files: readonly File[]): Promise<void>;
}

const EXPORT_TIMEOUT_MS = 120_000;
/** A merged export reads the model's files again: at most this long without a progress message. */
const MERGE_IDLE_TIMEOUT_MS = 300_000;
const IMPORT_TIMEOUT_MS = 300_000;

/** The worker's current adapter as PEFT's folder: adapter_config.json, adapter_model.safetensors, README.md. */
export async function workerAdapterFiles(): Promise<Record<string, Uint8Array>> {
  const { files } = await kernelWorker().request({ kind: 'adapter-export' }, EXPORT_TIMEOUT_MS);
  const folder: Record<string, Uint8Array> = {};
  // A bottleneck adapter's folder is AdapterHub's: its weights are adapter.safetensors.
  for (const name of [...ADAPTER_FOLDER_FILES, ADAPTERHUB_WEIGHTS_FILE]) if (files[name]) folder[name] = files[name];
  return folder;
}

/** The loaded model with the worker's current adapter merged in, as a Hugging Face folder; progress in words. */
export async function workerMergedFiles(dtype: MergedDtype, onProgress: (text: string) => void): Promise<Record<string, Uint8Array>> {
  const result = await kernelWorker().stream(
    { kind: 'merged-export', dtype },
    (m) => onProgress(`${m.message}${m.loaded !== undefined && m.total ? ` (${Math.round((100 * m.loaded) / m.total)} %)` : ''}`),
    { idleTimeoutMs: MERGE_IDLE_TIMEOUT_MS },
  );
  return result.files;
}

/** The ONNX export of the worker's current adapter (built once per adapter and variants); progress in words. */
export async function workerOnnxFiles(variants: OnnxVariants, onProgress: (text: string) => void): Promise<Record<string, Uint8Array>> {
  const quants = (Object.keys(variants) as (keyof OnnxVariants)[]).filter((q) => variants[q]);
  const result = await kernelWorker().stream(
    { kind: 'onnx-export', quants },
    (m) => onProgress(`${m.message}${m.loaded !== undefined && m.total ? ` (${Math.round((100 * m.loaded) / m.total)} %)` : ''}`),
    { idleTimeoutMs: MERGE_IDLE_TIMEOUT_MS },
  );
  return result.files;
}

export const useExport = create<ExportState>()((set, get) => {
  /** Builds a model folder in the worker (progress in the busy state) and downloads it as one zip. */
  async function downloadFolder(
    kind: 'merged' | 'onnx',
    starting: string,
    build: (onProgress: (text: string) => void) => Promise<Record<string, Uint8Array>>,
    zipName: (modelNameOrPath: string, method: MethodId) => string,
  ): Promise<void> {
    if (get().busy) return;
    set({ busy: { kind, progress: starting }, error: null });
    try {
      const files = await build((progress) => set({ busy: { kind, progress } }));
      const model = useModel.getState().status;
      const fileName = zipName(model.state === 'ready' ? model.info.nameOrPath : 'model', useAdapter.getState().adapter?.method ?? 'lora');
      const bytes = buildFolderZip(files);
      downloadBytes(fileName, bytes);
      set({ busy: null, exported: { fileName, bytes: bytes.byteLength } });
    } catch (error) {
      set({ busy: null, error: toErrorInfo(error) });
    }
  }

  return {
    busy: null,
    error: null,
    exported: null,
    imported: null,

    async download(target) {
      if (get().busy) return;
      set({ busy: { kind: 'export', target }, error: null });
      try {
        const files = await workerAdapterFiles();
        let fileName: string;
        let bytes: Uint8Array;
        if (target === 'zip') {
          const model = useModel.getState().status;
          fileName = adapterZipName(model.state === 'ready' ? model.info.nameOrPath : 'model', useAdapter.getState().adapter?.method ?? 'lora');
          bytes = buildFolderZip(files);
        } else {
          fileName = exportFileName(target, useAdapter.getState().adapter?.method);
          const file = files[fileName];
          if (!file) throw new Error(tr('export').workerExportMissing(fileName, Object.keys(files)));
          bytes = file;
        }
        downloadBytes(fileName, bytes);
        set({ busy: null, exported: { fileName, bytes: bytes.byteLength } });
      } catch (error) {
        set({ busy: null, error: toErrorInfo(error) });
      }
    },

    mergedDtype: 'F32',
    setMergedDtype: (mergedDtype) => set({ mergedDtype }),

    downloadMerged() {
      const dtype = get().mergedDtype;
      return downloadFolder('merged', tr('export').statusMerging, (onProgress) => workerMergedFiles(dtype, onProgress), (model, method) => mergedZipName(model, method, dtype));
    },

    onnxVariants: { q8: false, q4: false },
    setOnnxVariant: (quant, on) => set({ onnxVariants: { ...get().onnxVariants, [quant]: on } }),

    downloadOnnx() {
      const variants = get().onnxVariants;
      return downloadFolder('onnx', tr('export').statusExporting, (onProgress) => workerOnnxFiles(variants, onProgress), onnxZipName);
    },

    transformersJs: { state: 'idle' },
    async runTransformersJs(prompt, maxNewTokens) {
      if (get().transformersJs.state === 'running') return;
      set({ transformersJs: { state: 'running', progress: tr('export').statusExporting } });
      try {
        const files = await workerOnnxFiles(get().onnxVariants, (progress) => set({ transformersJs: { state: 'running', progress } }));
        set({ transformersJs: { state: 'running', progress: tr('export').transformersJsLoading } });
        const { transformersJsGenerate } = await import('../../deploy/transformers-js');
        const text = await transformersJsGenerate(new Map(Object.entries(files)), prompt, { maxNewTokens });
        set({ transformersJs: { state: 'done', prompt, text } });
      } catch (error) {
        set({ transformersJs: { state: 'error', message: toErrorInfo(error).message } });
      }
    },

    downloadRecipe() {
      if (get().busy) return;
      set({ error: null });
      try {
        const input = studioRecipeInput();
        const model = useModel.getState().status;
        const fileName = recipeZipName(model.state === 'ready' ? model.info.nameOrPath : 'model', input.method);
        const bytes = buildFolderZip(Object.fromEntries(buildRecipe(input)));
        downloadBytes(fileName, bytes);
        set({ exported: { fileName, bytes: bytes.byteLength } });
      } catch (error) {
        set({ error: toErrorInfo(error) });
      }
    },

    async importFiles(picked) {
      if (get().busy || picked.length === 0) return;
      set({ busy: { kind: 'import' }, error: null, imported: null });
      try {
        const files = await expandAdapterUpload(picked);
        const result = await kernelWorker().request({ kind: 'adapter-import', files }, IMPORT_TIMEOUT_MS);
        useAdapter.getState().setAdapter(result.adapter);
        set({ busy: null, imported: { files: picked.map((f) => f.name), adapter: result.adapter } });
      } catch (error) {
        set({ busy: null, error: toErrorInfo(error) });
      }
    },
  };
});

// A new model or a new adapter makes the last export/import message stale.
useAdapter.subscribe((state, prev) => {
  if (state.version === prev.version) return;
  const { imported } = useExport.getState();
  if (imported && imported.adapter !== state.adapter) useExport.setState({ imported: null, exported: null, transformersJs: { state: 'idle' } });
  else useExport.setState({ exported: null, transformersJs: { state: 'idle' } });
});
