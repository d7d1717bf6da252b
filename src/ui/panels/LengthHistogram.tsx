/** A histogram of example lengths in tokens, as an accessible SVG bar chart. */
import { useT } from '../i18n';

export function histogramBins(lengths: readonly number[], bins: number): { from: number; to: number; count: number }[] {
  if (lengths.length === 0) return [];
  const max = Math.max(...lengths);
  const min = Math.min(...lengths);
  const width = Math.max(1, Math.ceil((max - min + 1) / bins));
  const out = Array.from({ length: Math.ceil((max - min + 1) / width) }, (_, i) => ({ from: min + i * width, to: min + (i + 1) * width - 1, count: 0 }));
  for (const l of lengths) out[Math.floor((l - min) / width)].count++;
  return out;
}

/** `truncated`: how many examples were cut to maxLength (their bin is drawn in the warning colour). */
export function LengthHistogram({ lengths, maxLength, truncated }: { lengths: readonly number[]; maxLength: number; truncated: number }) {
  const t = useT('data');
  const bins = histogramBins(lengths, 16);
  if (bins.length === 0) return null;
  const top = Math.max(...bins.map((b) => b.count));
  // The y axis: the example count at the top and 0, in a left margin wide enough for the count's digits.
  const Y = 8 + 7 * String(top).length;
  const W = 320;
  const H = 90;
  const bw = (W - Y) / bins.length;
  return (
    <figure className="histogram" data-testid="data-histogram">
      <svg viewBox={`0 0 ${W} ${H + 16}`} role="img" aria-label={t.histogramLabel(lengths.length, bins[0].from, Math.max(...lengths), top)}>
        <line x1={Y - 3} y1={0} x2={Y - 3} y2={H} className="axis-line" />
        <text x={Y - 6} y={9} textAnchor="end" className="axis" data-testid="data-histogram-top">
          {top}
        </text>
        <text x={Y - 6} y={H} textAnchor="end" className="axis">
          0
        </text>
        {bins.map((b, i) => {
          const h = (b.count / top) * H;
          return (
            <rect key={b.from} x={Y + i * bw + 1} y={H - h} width={bw - 2} height={h} className={truncated > 0 && b.from <= maxLength && b.to >= maxLength ? 'bar bar-cut' : 'bar'}>
              <title>{t.binTitle(b.from === b.to ? String(b.from) : `${b.from}–${b.to}`, b.count)}</title>
            </rect>
          );
        })}
        <text x={Y} y={H + 13} className="axis">
          {bins[0].from}
        </text>
        <text x={W} y={H + 13} textAnchor="end" className="axis">
          {t.axisTokens(Math.max(...lengths))}
        </text>
      </svg>
      <figcaption className="muted">{t.histogramCaption(truncated, maxLength)}</figcaption>
    </figure>
  );
}
