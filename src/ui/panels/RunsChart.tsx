/** Several kept runs' loss curves on one chart (uPlot): train loss solid, validation loss dashed, a color per run. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useT } from '../i18n';
import { overlayData, RUN_COLORS } from '../runs/overlay';
import type { RunRecord, XAxis } from '../runs/run-record';
import { latestLegendIdxs } from './LossChart';

const HEIGHT = 240;

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4);
}

export function RunsChart({ runs, axis }: { runs: readonly RunRecord[]; axis: XAxis }) {
  const t = useT('runs');
  const box = useRef<HTMLDivElement>(null);
  const data = overlayData(runs, axis);
  const key = JSON.stringify([axis, t.axis(axis), runs.map((r) => [r.id, r.name])]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const color = new Map(runs.map((r, i) => [r.id, RUN_COLORS[i % RUN_COLORS.length]]));
    const name = new Map(runs.map((r) => [r.id, r.name]));
    const width = () => Math.max(240, el.clientWidth);
    const u = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        scales: { x: { time: false } },
        hooks: {
          // The pointer away from the chart: the legend shows each curve's latest value.
          setCursor: [(self) => {
            if (self.cursor.idx === null || self.cursor.idx === undefined) self.setLegend({ idxs: latestLegendIdxs(self.data) }, false);
          }],
        },
        axes: [
          { label: t.axis(axis), size: 36 },
          { label: t.loss, size: 56 },
        ],
        series: [
          { label: t.axis(axis), value: (_u, v) => (v === null || v === undefined ? '—' : axis === 'epoch' ? v.toFixed(2) : String(v)) },
          ...data.series.map((s) => ({
            label: `${name.get(s.runId)} · ${s.kind === 'train' ? t.trainLoss : t.valLoss}`,
            stroke: color.get(s.runId),
            width: 1.5,
            spanGaps: true,
            ...(s.kind === 'validation' ? { dash: [5, 4], points: { show: true, size: 6, fill: color.get(s.runId) } } : {}),
            value: (_u: uPlot, v: number | null) => fmt(v),
          })),
        ],
      },
      [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    u.setLegend({ idxs: latestLegendIdxs(u.data) }, false);
    const observer = new ResizeObserver(() => u.setSize({ width: width(), height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
    };
    // Rebuilt when the runs, their points, the axis or the language change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, runs.map((r) => r.steps.length).join(',')]);

  return (
    <figure className="loss-chart" data-testid="runs-chart" data-runs={runs.length} data-series={data.series.length} aria-label={t.chartLabel}>
      <div ref={box} className="loss-chart-plot" />
    </figure>
  );
}
