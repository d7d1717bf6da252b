/**
 * The overlay chart's data: several runs' train and validation losses on one x axis (step or epoch). uPlot wants one
 * shared x column, so the runs' x values are merged and each run's series is null where it has no point.
 */
import { xOf, type RunRecord, type XAxis } from './run-record';

export interface OverlaySeries {
  runId: string;
  kind: 'train' | 'validation';
  values: (number | null)[];
}

export interface OverlayData {
  x: number[];
  series: OverlaySeries[];
}

export function overlayData(runs: readonly RunRecord[], axis: XAxis): OverlayData {
  const xs = new Set<number>();
  for (const r of runs) for (const s of r.steps) xs.add(xOf(s.step, axis, r.stepsPerEpoch));
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const series: OverlaySeries[] = [];
  for (const r of runs) {
    const train: (number | null)[] = new Array(x.length).fill(null);
    const val: (number | null)[] = new Array(x.length).fill(null);
    for (const s of r.steps) {
      const i = index.get(xOf(s.step, axis, r.stepsPerEpoch))!;
      train[i] = s.loss;
      if (s.val_loss !== null) val[i] = s.val_loss;
    }
    series.push({ runId: r.id, kind: 'train', values: train });
    if (val.some((v) => v !== null)) series.push({ runId: r.id, kind: 'validation', values: val });
  }
  return { x, series };
}

/** Distinct colors for up to ten runs, then again. */
export const RUN_COLORS = ['#3450d1', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#a16207', '#be185d', '#4d7c0f', '#475569'];
