/** The live loss chart of a run: train loss per step and validation loss where it was measured (uPlot). */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StepLog } from '../../trainer/trainer';
import { useT } from '../i18n';

const HEIGHT = 220;
const TRAIN_COLOR = '#3450d1';
const VAL_COLOR = '#c2410c';

/** uPlot's columns: steps, train loss, validation loss (null where there was no evaluation). */
export function chartData(steps: readonly StepLog[]): uPlot.AlignedData {
  return [steps.map((s) => s.step), steps.map((s) => s.loss), steps.map((s) => s.val_loss)];
}

/**
 * The data index the legend shows for each series when the pointer is away from the chart: the latest point of each
 * (the last step for the train loss, the last evaluation for the validation loss); null for a series with none.
 */
export function latestLegendIdxs(data: uPlot.AlignedData): (number | null)[] {
  return data.map((column) => {
    for (let i = column.length - 1; i >= 0; i--) if (column[i] !== null && column[i] !== undefined) return i;
    return null;
  });
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4);
}

function showLatest(u: uPlot): void {
  if (u.cursor.idx === null || u.cursor.idx === undefined) u.setLegend({ idxs: latestLegendIdxs(u.data) }, false);
}

export function LossChart({ steps, totalSteps }: { steps: readonly StepLog[]; totalSteps: number }) {
  const t = useT('training');
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const total = useRef(totalSteps);
  total.current = totalSteps;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(),
      height: HEIGHT,
      scales: {
        x: {
          time: false,
          // The whole run on the x axis, so the chart shows how far it got.
          range: (_u, min, max) => [Math.min(min ?? 1, 1), Math.max(max ?? 1, total.current, 2)],
        },
      },
      axes: [
        { label: t.axisStep, size: 36 },
        { label: t.axisLoss, size: 56 },
      ],
      series: [
        { label: t.axisStep },
        { label: t.trainLoss, stroke: TRAIN_COLOR, width: 1.5, value: (_u, v) => fmt(v) },
        {
          label: t.valLoss,
          stroke: VAL_COLOR,
          width: 1.5,
          dash: [5, 4],
          spanGaps: true,
          points: { show: true, size: 6, fill: VAL_COLOR },
          value: (_u, v) => fmt(v),
        },
      ],
      hooks: {
        // The pointer left the chart: the legend shows the latest values again, not "—".
        setCursor: [(self) => showLatest(self)],
      },
    };
    const u = new uPlot(opts, [[], [], []], el);
    plot.current = u;
    const observer = new ResizeObserver(() => u.setSize({ width: width(), height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Built again in the other language (uPlot's labels are fixed at creation).
  }, [t]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(chartData(steps));
    showLatest(u);
  }, [steps, totalSteps, t]);

  const first = steps[0];
  const last = steps.at(-1);
  const lastVal = steps.findLast((s) => s.val_loss !== null);
  const caption =
    steps.length === 0 || !first || !last
      ? t.noSteps
      : t.caption(fmt(first.loss), first.step, fmt(last.loss), last.step, lastVal ? { loss: fmt(lastVal.val_loss), step: lastVal.step } : null);
  return (
    <figure className="loss-chart" data-testid="train-chart" data-points={steps.length} aria-label={t.chartLabel}>
      {/* No run yet: no empty axes (1 … 2), just the caption. */}
      <div ref={box} className="loss-chart-plot" hidden={steps.length === 0 && totalSteps === 0} />
      <figcaption className="hint">{caption}</figcaption>
    </figure>
  );
}
