// A uPlot time-series chart (bundled, no CDN) that follows the theme's colours (light and dark) and its
// container's width, so it reads on a phone too.

import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: number[];
  /** A CSS custom property for the colour, e.g. `--accent`. */
  color: string;
  /** Drawn against the right-hand axis (a rate from 0 to 1, shown in percent). */
  rate?: boolean;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** True while the system is in dark mode (charts are redrawn with the other palette when it switches). */
function useDark(): boolean {
  const query = '(prefers-color-scheme: dark)';
  const [dark, setDark] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const m = window.matchMedia(query);
    const update = () => setDark(m.matches);
    m.addEventListener('change', update);
    return () => m.removeEventListener('change', update);
  }, []);
  return dark;
}

export function TimeChart({ times, series, label, testId }: { times: number[]; series: Series[]; label: string; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const dark = useDark();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const text = cssVar('--text-muted');
    const grid = cssVar('--border');
    const hasRate = series.some((s) => s.rate);
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(260, el.clientWidth),
      height: el.clientWidth < 500 ? 200 : 260,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: cssVar(s.color),
          width: 2,
          ...(s.rate ? {} : { fill: `${cssVar(s.color)}22` }),
          scale: s.rate ? 'rate' : 'y',
          points: { show: times.length < 40 },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : s.rate ? `${(v * 100).toFixed(1)}%` : String(v)),
        })),
      ],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] }, rate: { range: (_u, _min, max) => [0, Math.max(0.05, max)] } },
      axes: [
        { ...axis },
        { ...axis, scale: 'y' },
        ...(hasRate ? [{ ...axis, scale: 'rate', side: 1, grid: { show: false }, values: (_u: uPlot, vals: number[]) => vals.map((v) => `${Math.round(v * 100)}%`) }] : []),
      ],
      legend: { show: true },
    };
    const plot = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(260, el.clientWidth), height: el.clientWidth < 500 ? 200 : 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, dark]);
  return <div class="chart" ref={box} role="img" aria-label={label} data-testid={testId} />;
}
