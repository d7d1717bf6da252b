/**
 * The last run's settings in localStorage (`peft-studio:last-run`), with a `finished` flag, so that after a page
 * reload (or a lost GPU device) an unfinished run can continue from its latest OPFS checkpoint; and its step log up
 * to that checkpoint, for the chart.
 */
import type { StepLog, TrainingSettings } from '../../trainer/trainer';
import type { TrainDataSpec, TrainMethodSpec } from '../../worker/protocol';
import type { DataSourceKind } from './data';
import type { MethodFields } from './method';
import type { SavedModel } from './training-helpers';


export const LAST_RUN_KEY = 'peft-studio:last-run';
/** The step log up to the latest checkpoint, for the chart of a resumed run. */
export const LAST_RUN_PROGRESS_KEY = 'peft-studio:last-run:progress';
export const RUN_NAME = 'studio-run';
/** Datasets at least this large (UTF-8 bytes) are not kept; the user chooses them again to resume. */
export const MAX_SAVED_DATA_BYTES = 2 * 1024 * 1024;
const MAX_SAVED_STEPS = 5000;

export interface SavedRun {
  version: 2;
  /** The run ended (completed, stopped, or failed in a way a resume cannot fix). */
  finished: boolean;
  runName: string;
  startedAt: string;
  model: SavedModel;
  /** The Method panel's fields, to put back. */
  method: MethodFields;
  /** The PEFT method and options train-start sent. */
  peftMethod: TrainMethodSpec;
  settings: Partial<TrainingSettings>;
  maxLength: number;
  valSplit: number;
  skipBadRecords: boolean;
  data: {
    /** null when the text was too large to keep. */
    spec: TrainDataSpec | null;
    sourceKind: DataSourceKind;
    sampleName: string;
    fileName?: string;
    bytes: number;
  };
  fromCurrentAdapter: boolean;
}

export interface SavedProgress {
  runName: string;
  checkpointStep: number;
  steps: StepLog[];
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function readSavedRun(): SavedRun | null {
  try {
    const text = storage()?.getItem(LAST_RUN_KEY);
    if (!text) return null;
    const v = JSON.parse(text) as SavedRun;
    if (v?.version !== 2 || typeof v.finished !== 'boolean' || typeof v.runName !== 'string' || !v.model || !v.method || !v.peftMethod || !v.data) return null;
    return v;
  } catch {
    return null;
  }
}

export function writeSavedRun(run: SavedRun): void {
  const s = storage();
  if (!s) return;
  try {
    s.setItem(LAST_RUN_KEY, JSON.stringify(run));
  } catch {
    // Over the quota: keep the settings without the dataset.
    try {
      s.setItem(LAST_RUN_KEY, JSON.stringify({ ...run, data: { ...run.data, spec: null } }));
    } catch {
      // no storage: the run still trains, it just cannot be offered for resuming
    }
  }
}

export function markFinished(runName: string): void {
  const saved = readSavedRun();
  if (saved && saved.runName === runName && !saved.finished) writeSavedRun({ ...saved, finished: true });
}

export function readProgress(runName: string): SavedProgress | null {
  try {
    const text = storage()?.getItem(LAST_RUN_PROGRESS_KEY);
    if (!text) return null;
    const v = JSON.parse(text) as SavedProgress;
    return v?.runName === runName && Array.isArray(v.steps) ? v : null;
  } catch {
    return null;
  }
}

export function writeProgress(progress: SavedProgress | null): void {
  try {
    const s = storage();
    if (!progress) s?.removeItem(LAST_RUN_PROGRESS_KEY);
    else s?.setItem(LAST_RUN_PROGRESS_KEY, JSON.stringify({ ...progress, steps: progress.steps.slice(-MAX_SAVED_STEPS) }));
  } catch {
    // the chart of a resumed run then starts at the checkpoint
  }
}

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

