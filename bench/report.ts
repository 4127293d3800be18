/** Benchmark output for people: an aligned text table and a recall-vs-QPS SVG plot. */

export interface Column<T> {
  title: string;
  value: (row: T) => string;
}

export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = b;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 || u === 0 ? 0 : 1)} ${units[u]}`;
}

/**
 * A peer's single-thread QPS at `recall`, linear between the two of its sweep points around it
 * (points taken in recall order); NaN outside the recall range its sweep covered.
 */
export function qpsAtRecall(points: ReadonlyArray<{ recall: number; qps: number }>, recall: number): number {
  const sorted = [...points].sort((a, b) => a.recall - b.recall);
  for (let i = 1; i < sorted.length; i++) {
    const lo = sorted[i - 1], hi = sorted[i];
    if (recall < lo.recall || recall > hi.recall) continue;
    const t = hi.recall === lo.recall ? 0 : (recall - lo.recall) / (hi.recall - lo.recall);
    return lo.qps + t * (hi.qps - lo.qps);
  }
  return sorted.length === 1 && sorted[0].recall === recall ? sorted[0].qps : NaN;
}

export interface Series {
  name: string;
  points: Array<{ x: number; y: number; label?: string }>;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Recall (x, linear) against QPS (y, log10) with one line per engine: the ann-benchmarks plot. */
export function recallQpsSvg(title: string, series: Series[], xLabel = 'recall@10', yLabel = 'queries per second (single thread, log scale)'): string {
  const W = 760, H = 480, L = 80, R = 160, T = 40, B = 60;
  const pts = series.flatMap((s) => s.points).filter((p) => p.y > 0);
  const xMin = Math.max(0, Math.floor(Math.min(...pts.map((p) => p.x), 1) * 10) / 10);
  const xMax = 1;
  const yMinL = Math.floor(Math.log10(Math.min(...pts.map((p) => p.y))));
  const yMaxL = Math.ceil(Math.log10(Math.max(...pts.map((p) => p.y))));
  const sx = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const sy = (y: number) => T + (1 - (Math.log10(y) - yMinL) / (yMaxL - yMinL || 1)) * (H - T - B);
  const out = svgStart(W, H, title);
  for (let i = 0; i <= 10; i++) {
    const x = xMin + ((xMax - xMin) * i) / 10;
    out.push(`<line x1="${sx(x)}" y1="${T}" x2="${sx(x)}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${H - B + 16}" text-anchor="middle">${x.toFixed(2)}</text>`);
  }
  for (let e = yMinL; e <= yMaxL; e++) {
    out.push(`<line x1="${L}" y1="${sy(10 ** e)}" x2="${W - R}" y2="${sy(10 ** e)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${sy(10 ** e) + 4}" text-anchor="end">${(10 ** e).toLocaleString('en-US')}</text>`);
  }
  plotSeries(out, { W, H, L, R, T, B, sx, sy }, xLabel, yLabel, series.map((s) => ({ ...s, points: s.points.filter((q) => q.y > 0) })), (s, q) => `${s.name} ${q.label ?? ''} recall=${q.x.toFixed(4)} qps=${q.y.toFixed(0)}`);
  return out.join('\n') + '\n';
}

function svgStart(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
}

interface Frame {
  W: number;
  H: number;
  L: number;
  R: number;
  T: number;
  B: number;
  sx: (x: number) => number;
  sy: (y: number) => number;
}

/** The plot frame, axis labels, one polyline with points per series, the legend, and the closing tag. */
function plotSeries(out: string[], f: Frame, xLabel: string, yLabel: string, series: Series[], tip: (s: Series, q: Series['points'][number]) => string): void {
  const { W, H, L, R, T, B, sx, sy } = f;
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = [...s.points].sort((a, b) => a.x - b.x);
    if (p.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map((q) => `${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`).join(' ')}"/>`);
    for (const q of p) out.push(`<circle cx="${sx(q.x).toFixed(1)}" cy="${sy(q.y).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(tip(s, q))}</title></circle>`);
    out.push(`<rect x="${W - R + 16}" y="${T + 10 + i * 22}" width="14" height="14" fill="${c}"/>`);
    out.push(`<text x="${W - R + 36}" y="${T + 22 + i * 22}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
}

/** A plain line chart (linear axes from the data, y from 0 unless negative values appear). */
export function lineChartSvg(title: string, series: Series[], xLabel: string, yLabel: string): string {
  const W = 760, H = 480, L = 80, R = 180, T = 40, B = 60;
  const pts = series.flatMap((s) => s.points);
  const xMin = Math.min(...pts.map((p) => p.x)), xMax = Math.max(...pts.map((p) => p.x));
  const yMin = Math.min(0, ...pts.map((p) => p.y)), yMax = Math.max(...pts.map((p) => p.y)) * 1.05 || 1;
  const sx = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - yMin) / (yMax - yMin || 1)) * (H - T - B);
  const out = svgStart(W, H, title);
  for (let i = 0; i <= 10; i++) {
    const x = xMin + ((xMax - xMin) * i) / 10;
    const y = yMin + ((yMax - yMin) * i) / 10;
    out.push(`<line x1="${sx(x)}" y1="${T}" x2="${sx(x)}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${H - B + 16}" text-anchor="middle">${x.toFixed(2)}</text>`);
    out.push(`<line x1="${L}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${y.toPrecision(3)}</text>`);
  }
  plotSeries(out, { W, H, L, R, T, B, sx, sy }, xLabel, yLabel, series, (s, q) => `${s.name} ${q.label ?? ''} x=${q.x.toFixed(3)} y=${q.y.toPrecision(4)}`);
  return out.join('\n') + '\n';
}
