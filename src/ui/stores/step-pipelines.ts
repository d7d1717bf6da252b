/**
 * How many shader pipelines a run's first step uses, learned from earlier runs of the same model, weight format and
 * method in this browser (localStorage `peft-studio:step-pipelines`), so that the first step's compile progress can
 * say "12 of 41". A first run of a combination learns it: its progress counts without a total.
 */
import type { TrainMethodSpec } from '../../worker/protocol';
import type { SavedModel } from './training-helpers';

export const STEP_PIPELINES_KEY = 'peft-studio:step-pipelines';
const MAX_ENTRIES = 50;

export function stepSignature(model: SavedModel, method: TrainMethodSpec, settings: { batchSize?: number; gradAccum?: number }): string {
  return JSON.stringify([model.repo ?? model.nameOrPath, model.format, method.id, method.options ?? {}, settings.batchSize ?? null, settings.gradAccum ?? null]);
}

function read(): Record<string, number> {
  try {
    const v = JSON.parse(localStorage.getItem(STEP_PIPELINES_KEY) ?? '{}') as Record<string, number>;
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

export function expectedPipelines(signature: string): number | null {
  const n = read()[signature];
  return typeof n === 'number' && n > 0 ? n : null;
}

export function rememberPipelines(signature: string, count: number): void {
  if (!(count > 0)) return;
  try {
    const all = read();
    delete all[signature];
    all[signature] = count;
    const keys = Object.keys(all);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete all[k];
    localStorage.setItem(STEP_PIPELINES_KEY, JSON.stringify(all));
  } catch {
    // the next first step counts without a total again
  }
}
