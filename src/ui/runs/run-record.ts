/**
 * A training run as the studio keeps it: its name, the settings it was started with, its status, its loss curve, its
 * log, its latest checkpoint and (once it ended) its adapter's files. Runs live in OPFS (run-storage.ts) and survive
 * reloads; the functions here are the pure parts: names, the status of a run found after a reload, the settings that
 * differ between runs, and the x axis of an overlay.
 */
import type { MethodComparisonRow } from '../../trainer/method-comparison';
import type { StepLog, TrainingSettings } from '../../trainer/trainer';
import type { TrainDataSpec, TrainMethodSpec } from '../../worker/protocol';
import type { DataSourceKind } from '../stores/data';
import type { MethodFields } from '../stores/method';
import type { SavedModel } from '../stores/training-helpers';

export const RUN_RECORD_VERSION = 3;

/**
 * running: training in this page now; interrupted: it was running when the page closed, its device was lost or its
 * worker crashed, so it can continue from its checkpoint; completed / stopped: it ended; failed: an error a resume
 * cannot fix (a bad value, bad data, divergence).
 */
export type RunStatus = 'running' | 'interrupted' | 'completed' | 'stopped' | 'failed';

/** Datasets at least this large (UTF-8 bytes) are not kept with the run; the user chooses them again to resume. */
export const MAX_KEPT_DATA_BYTES = 16 * 1024 * 1024;
/** The run's log keeps its last lines only. */
export const MAX_KEPT_LOG_LINES = 500;

export interface RunRecord {
  version: typeof RUN_RECORD_VERSION;
  /** The checkpoint folder's name in OPFS (peft-studio/checkpoints/<id>); never reused. */
  id: string;
  /** Shown and editable; by default from the model, the method and the start time. */
  name: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  /** Seconds spent training, over all the run's sessions (not counting the time between a cut and a resume). */
  trainSeconds: number;
  model: SavedModel;
  /** The Method panel's fields, to put back on resume. */
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
  totalSteps: number;
  /** Optimizer steps per epoch, once the run started (for the epoch axis). */
  stepsPerEpoch: number | null;
  steps: StepLog[];
  /** The latest checkpoint's step; null before the first. */
  checkpointStep: number | null;
  log: string[];
  error: { name: string; message: string } | null;
  /** The adapter's PEFT files are kept with the run (written when it ended). */
  hasAdapter: boolean;
  /** The run's row of a methods comparison, once it ended (trainable parameters, sizes, ms per step, losses). */
  comparison?: MethodComparisonRow;
}

/** "austen-2m" from "peft-studio/austen-2m" or a path. */
function modelShortName(model: SavedModel): string {
  const name = model.repo ?? model.nameOrPath;
  return name.split(/[\\/]/).filter(Boolean).at(-1) ?? name;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** The default name: model, method and local start time, e.g. "austen-2m · lora · 2026-12-04 00:06:07". */
export function defaultRunName(model: SavedModel, method: TrainMethodSpec, at: Date): string {
  const when = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  return `${modelShortName(model)} · ${method.id} · ${when}`;
}

/** A fresh run id (letters, digits, ".", "_", "-"): model, method, UTC time to the second, and a random tail. */
export function newRunId(model: SavedModel, method: TrainMethodSpec, at: Date, random: () => number = Math.random): string {
  const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'run';
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const tail = Math.floor(random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${slug(modelShortName(model))}-${slug(method.id)}-${stamp}-${tail}`;
}

/** A record read back after a reload: a run still marked running is no longer running (no page trains it now). */
export function afterReload(record: RunRecord): RunRecord {
  return record.status === 'running' ? { ...record, status: 'interrupted' } : record;
}

/** Whether a run can continue from its checkpoint. */
export function canResume(record: RunRecord): boolean {
  return record.status === 'interrupted';
}

export function finalLoss(record: Pick<RunRecord, 'steps'>): number | null {
  return record.steps.at(-1)?.loss ?? null;
}

/** The last validation loss, or null. */
export function finalValLoss(record: Pick<RunRecord, 'steps'>): number | null {
  return record.steps.findLast((s) => s.val_loss !== null)?.val_loss ?? null;
}

/** The step log up to the checkpoint a resume continues from (the steps after it are trained again). */
export function stepsToCheckpoint(record: Pick<RunRecord, 'steps' | 'checkpointStep'>): StepLog[] {
  const at = record.checkpointStep ?? 0;
  return record.steps.filter((s) => s.step <= at);
}

export type XAxis = 'step' | 'epoch';

/** A step's position on the overlay's x axis. */
export function xOf(step: number, axis: XAxis, stepsPerEpoch: number | null): number {
  return axis === 'epoch' && stepsPerEpoch && stepsPerEpoch > 0 ? step / stepsPerEpoch : step;
}

/** A run's settings flattened to "group.name" → text, for the table of what differs between runs. */
export function flatSettings(record: RunRecord): Map<string, string> {
  const out = new Map<string, string>();
  const put = (key: string, value: unknown) => {
    if (value === undefined) return;
    out.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  };
  put('model', record.model.repo ?? record.model.nameOrPath);
  put('model.revision', record.model.revision);
  put('W0 format', record.model.format);
  put('method', record.peftMethod.id);
  for (const [k, v] of Object.entries(record.peftMethod.options ?? {}).sort(([a], [b]) => a.localeCompare(b))) put(k, v);
  for (const [k, v] of Object.entries(record.settings).sort(([a], [b]) => a.localeCompare(b))) put(k, v);
  put('maxLength', record.maxLength);
  put('valSplit', record.valSplit);
  put('skipBadRecords', record.skipBadRecords);
  put('data', record.data.fileName ?? (record.data.sourceKind === 'sample' ? record.data.sampleName : record.data.sourceKind));
  put('fromCurrentAdapter', record.fromCurrentAdapter);
  return out;
}

/** The settings whose values are not the same in every run (a setting one run lacks counts as differing), in order. */
export function settingsDiff(records: readonly RunRecord[]): { key: string; values: (string | null)[] }[] {
  const flats = records.map(flatSettings);
  const keys: string[] = [];
  for (const f of flats) for (const k of f.keys()) if (!keys.includes(k)) keys.push(k);
  return keys
    .map((key) => ({ key, values: flats.map((f) => f.get(key) ?? null) }))
    .filter(({ values }) => values.some((v) => v !== values[0]));
}
