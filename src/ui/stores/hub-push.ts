/**
 * The Export panel's push to the Hugging Face Hub: the repo, the token (in memory only, unless the person chooses
 * to remember it in this browser's localStorage), what to push (the adapter's folder, or the merged model in the
 * Export panel's dtype), the progress, and the repo's URL at the end. The upload runs in the page with
 * @huggingface/hub (src/deploy/hub-push.ts); the files come from the worker.
 */
import { create } from 'zustand';
import { checkRepoId, DEFAULT_HUB_ENDPOINT, pushToHub } from '../../deploy/hub-push';
import { useExport, workerAdapterFiles, workerMergedFiles, workerOnnxFiles } from './export';
import { tr } from '../i18n';
import { toErrorInfo, type ErrorInfo } from './worker';
import { localStore } from '../local-storage';

/** Where a remembered token is kept (only when the person asks for it). */
export const TOKEN_KEY = 'peft-studio:hf-token';

export type PushWhat = 'adapter' | 'merged' | 'onnx';

export interface HubPushState {
  repo: string;
  token: string;
  remember: boolean;
  /** The Hub, or a mirror with its API; empty = https://huggingface.co. */
  endpoint: string;
  what: PushWhat;
  /** What the push is doing, while it runs. */
  progress: string | null;
  error: ErrorInfo | null;
  /** The repo's page after a push. */
  pushedUrl: string | null;
  set(patch: Partial<Pick<HubPushState, 'repo' | 'token' | 'endpoint' | 'what'>>): void;
  /** Keeps the token in localStorage (on) or forgets it there (off). */
  setRemember(on: boolean): void;
  push(): Promise<void>;
}

const remembered = localStore()?.getItem(TOKEN_KEY) ?? null;

export const useHubPush = create<HubPushState>()((set, get) => ({
  repo: '',
  token: remembered ?? '',
  remember: remembered !== null,
  endpoint: '',
  what: 'adapter',
  progress: null,
  error: null,
  pushedUrl: null,

  set(patch) {
    set(patch);
    if (patch.token !== undefined && get().remember) localStore()?.setItem(TOKEN_KEY, patch.token);
  },

  setRemember(on) {
    set({ remember: on });
    if (on) localStore()?.setItem(TOKEN_KEY, get().token);
    else localStore()?.removeItem(TOKEN_KEY);
  },

  async push() {
    if (get().progress !== null) return;
    const { repo, token, endpoint, what } = get();
    const t = tr('export');
    set({ error: null, pushedUrl: null, progress: t.pushPreparing });
    try {
      checkRepoId(repo.trim());
      const files =
        what === 'adapter'
          ? await workerAdapterFiles()
          : what === 'merged'
            ? await workerMergedFiles(useExport.getState().mergedDtype, (text) => set({ progress: t.pushMerging(text) }))
            : await workerOnnxFiles(useExport.getState().onnxVariants, (text) => set({ progress: t.pushExportingOnnx(text) }));
      const result = await pushToHub({
        repo: repo.trim(),
        token,
        files: new Map(Object.entries(files)),
        endpoint: endpoint.trim() || DEFAULT_HUB_ENDPOINT,
        onProgress: (p) => set({ progress: p.file ? t.pushFile(p.phase, p.file, p.progress !== undefined ? Math.round(100 * p.progress) : null) : t.pushPhase(p.phase) }),
      });
      set({ progress: null, pushedUrl: result.url });
    } catch (error) {
      set({ progress: null, error: toErrorInfo(error) });
    }
  },
}));
