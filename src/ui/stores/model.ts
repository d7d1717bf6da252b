/** The Model panel's state: where the base model comes from, its weight format, loading progress, and what loaded. */
import { create } from 'zustand';
import type { WeightFormat } from '../../kernels/weight-format';
import { RUN_DEFAULTS } from '../../options/run-fields';
import type { ModelInfo, TrainModelSpec } from '../../worker/protocol';
import { tr } from '../i18n';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

export type ModelSourceKind = 'default' | 'hub' | 'files';

export interface FileProgress {
  file: string;
  loaded: number;
  total: number | null;
}

export type ModelStatus =
  | { state: 'idle' }
  | { state: 'loading'; message: string; files: FileProgress[] }
  | { state: 'ready'; info: ModelInfo; spec: TrainModelSpec }
  | { state: 'error'; error: ErrorInfo };

export interface ModelState {
  sourceKind: ModelSourceKind;
  hubRepo: string;
  hubRevision: string;
  /** A mirror of the Hub's URL layout; empty = https://huggingface.co. */
  hubEndpoint: string;
  files: File[];
  format: WeightFormat;
  status: ModelStatus;
  setSourceKind(kind: ModelSourceKind): void;
  setHub(fields: Partial<Pick<ModelState, 'hubRepo' | 'hubRevision' | 'hubEndpoint'>>): void;
  setFiles(files: File[]): void;
  setFormat(format: WeightFormat): void;
  /** The spec the current choices name, or an error message saying what is missing. */
  spec(): TrainModelSpec | string;
  load(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 120_000;

export const useModel = create<ModelState>()((set, get) => ({
  sourceKind: 'default',
  hubRepo: '',
  hubRevision: 'main',
  hubEndpoint: '',
  files: [],
  format: RUN_DEFAULTS.quant,
  status: { state: 'idle' },

  setSourceKind(sourceKind) {
    set({ sourceKind });
  },
  setHub(fields) {
    set(fields);
  },
  setFiles(files) {
    set({ files });
  },
  setFormat(format) {
    set({ format });
  },

  spec() {
    const { sourceKind, hubRepo, hubRevision, hubEndpoint, files } = get();
    if (sourceKind === 'default') return { kind: 'default' };
    if (sourceKind === 'hub') {
      if (!hubRepo.trim()) return tr('model').needHubRepo;
      return { kind: 'hub', repo: hubRepo.trim(), revision: hubRevision.trim() || 'main', ...(hubEndpoint.trim() ? { endpoint: hubEndpoint.trim() } : {}) };
    }
    if (files.length === 0) return tr('model').needFiles;
    return { kind: 'files', files };
  },

  async load() {
    if (get().status.state === 'loading') return;
    const spec = get().spec();
    if (typeof spec === 'string') {
      set({ status: { state: 'error', error: { name: 'Error', message: spec } } });
      return;
    }
    const files = new Map<string, FileProgress>();
    set({ status: { state: 'loading', message: tr('model').starting, files: [] } });
    try {
      const result = await kernelWorker().stream(
        { kind: 'model-load', model: spec, quant: get().format },
        (m) => {
          if (m.file !== undefined && m.loaded !== undefined) files.set(m.file, { file: m.file, loaded: m.loaded, total: m.total ?? null });
          set({ status: { state: 'loading', message: m.message, files: [...files.values()] } });
        },
        { idleTimeoutMs: IDLE_TIMEOUT_MS },
      );
      set({ status: { state: 'ready', info: result.info, spec } });
    } catch (error) {
      set({ status: { state: 'error', error: toErrorInfo(error) } });
    }
  },
}));
