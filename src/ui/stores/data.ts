/**
 * The Data panel's state: which dataset (a sample, an uploaded file or pasted text), its text, and the worker's
 * tokenized view of it (statistics, problems, preview) for the loaded model.
 */
import { create } from 'zustand';
import { SAMPLE_DATASETS } from '../../model-io/embedded';
import { accepts } from '../../options/field';
import { RUN_DEFAULTS, RUN_FIELDS } from '../../options/run-fields';
import type { DataPreviewResponse, TrainDataSpec } from '../../worker/protocol';
import { publicUrl } from '../../util/public-url';
import { tr } from '../i18n';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

export type DataSourceKind = 'sample' | 'file' | 'paste';

export type DataStatus =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'ready'; preview: DataPreviewResponse }
  | { state: 'error'; error: ErrorInfo };

export interface DataState {
  sourceKind: DataSourceKind;
  sampleName: string;
  /** The chosen dataset's text and file name (no file name for pasted text). */
  spec: TrainDataSpec | null;
  pasted: string;
  maxLength: number;
  skipBadRecords: boolean;
  status: DataStatus;
  setSourceKind(kind: DataSourceKind): void;
  chooseSample(name: string): Promise<void>;
  chooseFile(file: File): Promise<void>;
  setPasted(text: string): void;
  setMaxLength(n: number): void;
  setSkipBadRecords(skip: boolean): void;
  /** Tokenizes the chosen dataset with the loaded model (the worker needs one). */
  analyze(): Promise<void>;
}

const PREVIEW_COUNT = 5;

export const useData = create<DataState>()((set, get) => ({
  sourceKind: 'sample',
  sampleName: SAMPLE_DATASETS[0].name,
  spec: null,
  pasted: '',
  maxLength: RUN_DEFAULTS.maxLength,
  skipBadRecords: RUN_DEFAULTS.skipBadRecords,
  status: { state: 'idle' },

  setSourceKind(sourceKind) {
    set({ sourceKind, spec: sourceKind === 'paste' && get().pasted ? { text: get().pasted } : null, status: { state: 'idle' } });
  },

  async chooseSample(name) {
    const sample = SAMPLE_DATASETS.find((d) => d.name === name);
    if (!sample) return;
    set({ sourceKind: 'sample', sampleName: name, spec: null, status: { state: 'loading' } });
    try {
      const res = await fetch(publicUrl(sample.file));
      if (!res.ok) throw new Error(`${sample.file}: HTTP ${res.status}`);
      const text = await res.text();
      if (get().sampleName !== name) return;
      set({ spec: { text, fileName: sample.file.split('/').pop()! } });
      await get().analyze();
    } catch (error) {
      set({ status: { state: 'error', error: toErrorInfo(error) } });
    }
  },

  async chooseFile(file) {
    set({ sourceKind: 'file', spec: null, status: { state: 'loading' } });
    try {
      set({ spec: { text: await file.text(), fileName: file.name } });
      await get().analyze();
    } catch (error) {
      set({ status: { state: 'error', error: toErrorInfo(error) } });
    }
  },

  setPasted(pasted) {
    set({ pasted, spec: pasted.trim() ? { text: pasted } : null });
  },
  setMaxLength(maxLength) {
    if (accepts(RUN_FIELDS.maxLength, maxLength)) set({ maxLength });
  },
  setSkipBadRecords(skipBadRecords) {
    set({ skipBadRecords });
  },

  async analyze() {
    const { spec, maxLength } = get();
    if (!spec) {
      set({ status: { state: 'error', error: { name: 'Error', message: tr('data').needDataset } } });
      return;
    }
    set({ status: { state: 'loading' } });
    try {
      const preview = await kernelWorker().request({ kind: 'data-preview', data: spec, maxLength, previewCount: PREVIEW_COUNT }, 120_000);
      if (get().spec !== spec) return;
      set({ status: { state: 'ready', preview } });
    } catch (error) {
      set({ status: { state: 'error', error: toErrorInfo(error) } });
    }
  },
}));
