/** Pure helpers of the Training panel: ETA, GPU memory, the trainable count, and which model a saved run used. */
import type { WeightFormat } from '../../kernels/weight-format';
import { DEFAULT_MODEL } from '../../model-io/embedded';
import { tr } from '../i18n';
import type { ModelInfo, TrainModelSpec } from '../../worker/protocol';



/** Steps whose wall time the ETA averages. */
export const ETA_WINDOW = 10;

/**
 * Seconds left: the mean duration of the last `window` steps times the steps remaining. `stepSeconds` are the steps'
 * own durations with their shader compiles taken out (StepTiming), so the first step already gives an estimate; null
 * before any step, 0 at the end.
 */
export function estimateEtaSeconds(stepSeconds: readonly number[], step: number, totalSteps: number, window = ETA_WINDOW): number | null {
  const remaining = Math.max(0, totalSteps - step);
  if (remaining === 0) return 0;
  if (stepSeconds.length === 0) return null;
  const recent = stepSeconds.slice(-Math.max(1, window));
  const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
  if (!Number.isFinite(mean) || mean < 0) return null;
  return mean * remaining;
}

export { timedSeconds } from '../../trainer/trainer';

/** 42 → "42 s", 200 → "3 min 20 s", 7260 → "2 h 1 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export { ADAPTER_BYTES_PER_PARAM, gpuMemoryBytes, type MemoryParts } from '../../trainer/gpu-memory';

/** The trainable count of PEFT's print_trainable_parameters line ("trainable params: 1,234 || …"), or null. */
export function parseTrainableParams(line: string): number | null {
  const m = /trainable params: ([\d,]+)/.exec(line);
  return m ? Number(m[1].replaceAll(',', '')) : null;
}

/** Which base model a run trained, as much as is needed to know it again after a reload. */
export interface SavedModel {
  kind: TrainModelSpec['kind'];
  repo?: string;
  revision?: string;
  endpoint?: string;
  /** ModelInfo.nameOrPath. */
  nameOrPath: string;
  format: WeightFormat;
}

export function savedModelOf(spec: TrainModelSpec, info: Pick<ModelInfo, 'nameOrPath' | 'format'>): SavedModel {
  const out: SavedModel = { kind: spec.kind, nameOrPath: info.nameOrPath, format: info.format };
  if (spec.kind === 'hub') {
    out.repo = spec.repo;
    if (spec.revision !== undefined) out.revision = spec.revision;
    if (spec.endpoint !== undefined) out.endpoint = spec.endpoint;
  }
  return out;
}

/** Whether the loaded model (its spec and info) is the one a saved run trained. */
export function sameModel(saved: SavedModel, spec: TrainModelSpec, info: Pick<ModelInfo, 'nameOrPath'>): boolean {
  if (saved.kind !== spec.kind) return false;
  if (spec.kind === 'hub') return spec.repo === saved.repo && (spec.revision ?? 'main') === (saved.revision ?? 'main');
  if (spec.kind === 'files') return info.nameOrPath === saved.nameOrPath;
  return true;
}

export function describeSavedModel(saved: SavedModel): string {
  const t = tr('training');
  switch (saved.kind) {
    case 'default':
      return t.modelDefault(DEFAULT_MODEL.id);
    case 'hub':
      return t.modelHub(saved.repo ?? '', saved.revision && saved.revision !== 'main' ? saved.revision : null);
    case 'files':
      return t.modelFiles(saved.nameOrPath);
    default:
      return saved.nameOrPath;
  }
}

