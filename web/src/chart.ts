/** A small SVG line chart (no library, no inline script or style, so the strict CSP holds). */
const NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

export interface Series {
  name: string;
  values: (number | null)[];
  className: string;
}

/**
 * One chart over evenly spaced buckets (oldest left). Gaps (null) break the line. The y axis runs
 * from 0 to the largest value; the title and a text summary carry the numbers for screen readers.
 */
export function lineChart(id: string, title: string, unit: string, series: Series[]): HTMLElement {
  const W = 600;
  const H = 120;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const top = max > 0 ? max * 1.1 : 1;
  const x = (i: number): string => ((i / Math.max(1, n - 1)) * W).toFixed(1);
  const y = (v: number): string => (H - (v / top) * H).toFixed(1);
  const paths = series.map((s) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null) return;
      const prev = s.values[i - 1];
      const next = s.values[i + 1];
      // A lone bucket between gaps has no line to draw: a spike from the axis shows it.
      if ((prev ?? null) === null && (next ?? null) === null) d += `M${x(i)} ${H}L${x(i)} ${y(v)}`;
      else d += `${(prev ?? null) === null ? 'M' : 'L'}${x(i)} ${y(v)}`;
    });
    return svg(
      'path',
      { d: d || 'M0 0', class: `line ${s.className}`, fill: 'none' },
      svg('title', {}, s.name),
    );
  });
  const fmt = (v: number): string => String(Math.round(v * 100) / 100);
  const summary = series
    .map((s) => {
      const vals = s.values.filter((v): v is number => v !== null);
      return `${s.name}: peak ${fmt(Math.max(0, ...vals))} ${unit}`;
    })
    .join('; ');
  const chart = svg(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `${title}. ${summary}`,
    },
    svg('title', {}, title),
    svg('line', { x1: '0', y1: String(H), x2: String(W), y2: String(H), class: 'axis' }),
    ...paths,
  );
  const fig = document.createElement('figure');
  fig.id = id;
  fig.className = 'chart';
  const cap = document.createElement('figcaption');
  cap.textContent = `${title} (last 24 h, max ${fmt(max)} ${unit}) — ${summary}`;
  fig.append(cap, chart);
  return fig;
}
