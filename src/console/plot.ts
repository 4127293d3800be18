/**
 * Small SVG plots: series of (x, y) points joined by lines, linear or log axes, a legend, and a hover
 * tip naming the point (series, x, y and whatever detail the caller attaches).
 */
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

export interface Point {
  x: number;
  y: number;
  /** Shown in the hover tip. */
  detail?: string;
}
export interface Series {
  name: string;
  points: Point[];
}
export interface Axis {
  label: string;
  log?: boolean;
  /** Fixed ends of the axis (default: the data's range). */
  min?: number;
  max?: number;
}
export interface PlotOptions {
  title: string;
  x: Axis;
  y: Axis;
  width?: number;
  height?: number;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** "Nice" ticks over [lo, hi]: about 6 round numbers; on a log axis powers of ten (and 2x, 5x over few decades). */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const decades = Math.log10(hi / lo);
    const steps = decades <= 2 ? [1, 2, 5] : [1];
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of steps) out.push(m * 10 ** e);
    return out.filter((t) => t >= lo / 1.0001 && t <= hi * 1.0001);
  }
  const step0 = (hi - lo) / 6 || 1;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** A tick or tip number: 12k, 1.5M, 0.95, 3e-4. */
function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a !== 0 && a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** The plot as an <svg> inside a <figure> (with its hover tip). */
export function plot(series: Series[], o: PlotOptions): HTMLElement {
  const W = o.width ?? 640;
  const H = o.height ?? 320;
  const m = { l: 64, r: 150, t: 28, b: 44 };
  const inside = (v: number, a: Axis) => Number.isFinite(v) && (!a.log || v > 0) && (a.min === undefined || v >= a.min) && (a.max === undefined || v <= a.max);
  const all = series.flatMap((s) => s.points).filter((p) => inside(p.x, o.x) && inside(p.y, o.y));
  const figure = document.createElement('figure');
  figure.className = 'plot';
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': o.title });
  figure.append(root);
  root.append(svg('text', { x: m.l, y: 18, class: 'plot-title' }, o.title));
  if (all.length === 0) {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'plot-empty' }, 'no data yet'));
    return figure;
  }
  const range = (vals: number[], axis: Axis) => {
    const log = !!axis.log;
    let lo = axis.min ?? Math.min(...vals);
    let hi = axis.max ?? Math.max(...vals);
    if (lo === hi) {
      if (axis.min === undefined) lo = log ? lo / 2 : lo - 1;
      hi = log ? hi * 2 : hi + 1;
    }
    return { lo, hi };
  };
  const xr = range(all.map((p) => p.x), o.x);
  const yr = range(all.map((p) => p.y), o.y);
  if (!o.y.log && o.y.min === undefined && yr.lo > 0 && yr.lo < yr.hi * 0.5) yr.lo = 0;
  const scale = (v: number, r: { lo: number; hi: number }, log: boolean, a: number, b: number) =>
    a + (b - a) * (log ? (Math.log(v) - Math.log(r.lo)) / (Math.log(r.hi) - Math.log(r.lo)) : (v - r.lo) / (r.hi - r.lo));
  const X = (v: number) => scale(v, xr, !!o.x.log, m.l, W - m.r);
  const Y = (v: number) => scale(v, yr, !!o.y.log, H - m.b, m.t);

  const axes = svg('g', { class: 'axes' });
  for (const t of ticks(xr.lo, xr.hi, !!o.x.log)) {
    axes.append(svg('line', { x1: X(t), x2: X(t), y1: m.t, y2: H - m.b, class: 'grid' }), svg('text', { x: X(t), y: H - m.b + 16, 'text-anchor': 'middle' }, label(t)));
  }
  for (const t of ticks(yr.lo, yr.hi, !!o.y.log)) {
    axes.append(svg('line', { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), class: 'grid' }), svg('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, label(t)));
  }
  axes.append(
    svg('text', { x: (m.l + W - m.r) / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis-label' }, o.x.label + (o.x.log ? ' (log)' : '')),
    svg('text', { x: 14, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`, class: 'axis-label' }, o.y.label + (o.y.log ? ' (log)' : '')),
  );
  root.append(axes);

  const tip = document.createElement('div');
  tip.className = 'plot-tip';
  tip.hidden = true;
  figure.append(tip);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => all.includes(p)).sort((a, b) => a.x - b.x);
    const g = svg('g', { class: 'series', 'data-series': s.name });
    if (pts.length > 1) g.append(svg('polyline', { points: pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
    for (const p of pts) {
      const dot = svg('circle', { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 4, fill: color, class: 'point' });
      const text = `${s.name}\n${o.x.label}: ${label(p.x)}\n${o.y.label}: ${label(p.y)}${p.detail ? `\n${p.detail}` : ''}`;
      dot.append(svg('title', {}, text));
      dot.addEventListener('mouseenter', () => {
        tip.textContent = text;
        tip.style.left = `${X(p.x) + 10}px`;
        tip.style.top = `${Y(p.y) - 10}px`;
        tip.hidden = false;
      });
      dot.addEventListener('mouseleave', () => (tip.hidden = true));
      g.append(dot);
    }
    root.append(g);
    root.append(svg('rect', { x: W - m.r + 12, y: m.t + i * 18, width: 10, height: 10, fill: color }), svg('text', { x: W - m.r + 28, y: m.t + i * 18 + 9, class: 'legend' }, s.name.length > 20 ? `${s.name.slice(0, 19)}…` : s.name));
  });
  return figure;
}
