import { localizationLines } from './localize/text.ts';
import { HISTOGRAM_BINS } from './compare.ts';
import type { BackendReport, Report } from './report.ts';
import { expectedLabel, fmtErr } from './report.ts';
import { markdownReport } from './report-text.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const DASHES = ['none', '6 3', '2 2', '8 3 2 3', '4 4', '1 3', '10 2'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'circle', 'square'] as const;

/** A small marker shape at (x, y). */
function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const p = (v: number) => v.toFixed(1);
  switch (kind) {
    case 'circle':
      return `<circle cx="${p(x)}" cy="${p(y)}" r="2.5" fill="${color}"/>`;
    case 'square':
      return `<rect x="${p(x - 2.5)}" y="${p(y - 2.5)}" width="5" height="5" fill="${color}"/>`;
    case 'triangle':
      return `<polygon points="${p(x)},${p(y - 3)} ${p(x - 3)},${p(y + 2.5)} ${p(x + 3)},${p(y + 2.5)}" fill="${color}"/>`;
    case 'diamond':
      return `<polygon points="${p(x)},${p(y - 3)} ${p(x - 3)},${p(y)} ${p(x)},${p(y + 3)} ${p(x + 3)},${p(y)}" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${p(x - 3)} ${p(y - 3)}L${p(x + 3)} ${p(y + 3)}M${p(x - 3)} ${p(y + 3)}L${p(x + 3)} ${p(y - 3)}" stroke="${color}" stroke-width="1.5"/>`;
  }
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];
const STATUS_COLORS: Record<string, string> = { pass: '#2e7d32', fail: '#c62828', partial: '#ef6c00', unavailable: '#757575', error: '#6a1b9a', skipped: '#757575' };

/** Sum of every case's and output's abs-error histogram for one backend. */
function backendHistogram(b: BackendReport): number[] {
  const h = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (const c of b.cases) for (const o of c.outputs) o.histogram.forEach((n, i) => (h[i]! += n));
  return h;
}

/**
 * Max over cases of the per-step max abs error: of a stateful run's steps where there are some, else of
 * hidden_states' time steps; steps past a case's length take the other cases'.
 */
function backendSteps(b: BackendReport): number[] {
  const out: number[] = [];
  for (const c of b.cases) {
    (c.stepRun?.perStepMaxAbs ?? c.steps?.perStepMaxAbs)?.forEach((v, t) => {
      const n = typeof v === 'number' ? v : Infinity;
      out[t] = Math.max(out[t] ?? 0, n);
    });
  }
  return out;
}

/** A bar chart of the abs-error histogram: x log-scaled decades, y count on a log scale (counts span decades too). */
function histogramSvg(b: BackendReport, labels: string[]): string {
  const h = backendHistogram(b);
  const W = 420;
  const Hh = 180;
  const left = 40;
  const bottom = 40;
  const top = 10;
  const bw = (W - left - 10) / h.length;
  const maxLog = Math.log10(Math.max(1, ...h) + 1);
  const bars = h
    .map((n, i) => {
      const height = n === 0 ? 0 : ((Math.log10(n + 1) / maxLog) * (Hh - top - bottom));
      const x = left + i * bw;
      const y = Hh - bottom - height;
      return `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${height.toFixed(1)}" data-bin="${esc(labels[i] ?? '')}" data-count="${n}"><title>${esc(labels[i] ?? '')}: ${n}</title></rect>`;
    })
    .join('');
  const ticks = labels
    .map((l, i) => (i % 2 === 0 || i === labels.length - 1 ? `<text x="${(left + i * bw + bw / 2).toFixed(1)}" y="${Hh - bottom + 14}" class="tick" transform="rotate(45 ${(left + i * bw + bw / 2).toFixed(1)} ${Hh - bottom + 14})">${esc(l)}</text>` : ''))
    .join('');
  const total = h.reduce((a, n) => a + n, 0);
  return `<svg class="plot histogram" data-backend="${esc(b.name)}" data-total="${total}" viewBox="0 0 ${W} ${Hh}" width="${W}" height="${Hh}" role="img" aria-label="abs error histogram, ${esc(b.name)}">
<line x1="${left}" y1="${Hh - bottom}" x2="${W - 10}" y2="${Hh - bottom}" class="axis"/><line x1="${left}" y1="${top}" x2="${left}" y2="${Hh - bottom}" class="axis"/>
<text x="4" y="${top + 8}" class="tick">count (log)</text>${bars}${ticks}</svg>`;
}

/**
 * Max abs error per step, one line per backend, y on a log scale from 1e-12 to 10. Lines differ in colour, dash
 * and marker (they often lie on top of each other); each distinct atol is drawn as a dotted line, labelled.
 */
function stepsSvg(backends: BackendReport[]): string {
  const series = backends.map((b, i) => ({ b, color: COLORS[i % COLORS.length]!, dash: DASHES[i % DASHES.length]!, marker: MARKERS[i % MARKERS.length]!, steps: backendSteps(b) })).filter((s) => s.steps.length > 0);
  if (series.length === 0) return '<p class="note">No per-step errors: the plot needs a model exported with <code>hidden_states</code>, or a stateful run (<code>--steps</code>).</p>';
  const W = 860;
  const H = 260;
  const left = 56;
  const right = 150;
  const top = 10;
  const bottom = 30;
  const T = Math.max(...series.map((s) => s.steps.length));
  const lo = -12;
  const hi = 1;
  const xOf = (t: number) => left + (T <= 1 ? 0 : (t / (T - 1)) * (W - left - right));
  const yOf = (v: number) => {
    const l = v <= 0 ? lo : Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.log10(v))) : hi;
    return top + ((hi - l) / (hi - lo)) * (H - top - bottom);
  };
  const grid = [];
  for (let k = lo; k <= hi; k += 2) grid.push(`<line x1="${left}" x2="${W - right}" y1="${yOf(10 ** k).toFixed(1)}" y2="${yOf(10 ** k).toFixed(1)}" class="grid"/><text x="4" y="${(yOf(10 ** k) + 4).toFixed(1)}" class="tick">1e${k}</text>`);
  // Markers on at most ~24 points per line, so long runs stay readable.
  const every = Math.max(1, Math.ceil(T / 24));
  const lines = series
    .map((s, i) => {
      const pts = s.steps.map((v, t) => `${xOf(t).toFixed(1)},${yOf(v).toFixed(1)}`).join(' ');
      const legendY = top + i * 18;
      const legend = `<line x1="${W - right + 8}" x2="${W - right + 26}" y1="${legendY + 2}" y2="${legendY + 2}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>${marker(s.marker, W - right + 17, legendY + 2, s.color)}<text x="${W - right + 32}" y="${legendY + 6}" class="tick">${esc(s.b.name)}</text>`;
      const marks = s.steps.map((v, t) => (t % every === 0 || t === s.steps.length - 1 ? marker(s.marker, xOf(t), yOf(v), s.color) : '')).join('');
      return `<polyline class="series" data-backend="${esc(s.b.name)}" data-points="${s.steps.length}" fill="none" stroke="${s.color}" stroke-width="1.5" stroke-dasharray="${s.dash}" points="${pts}"/>${marks}${legend}`;
    })
    .join('');
  const atols = [...new Set(series.map((s) => s.b.tolerance.atol))];
  const tolLines = atols
    .map((a) => {
      const names = series.filter((s) => s.b.tolerance.atol === a).map((s) => s.b.name).join(', ');
      const y = yOf(a).toFixed(1);
      return `<line class="tolerance" data-atol="${a}" x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="1 3"/><text x="${left + 4}" y="${(Number(y) - 3).toFixed(1)}" class="tick">atol ${a} (${esc(names)})</text>`;
    })
    .join('');
  return `<svg class="plot steps" data-series="${series.length}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="max abs error per time step">
${grid.join('')}<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" class="axis"/>
<text x="${left}" y="${H - 8}" class="tick">step 0</text><text x="${W - right - 50}" y="${H - 8}" class="tick">step ${T - 1}</text>${tolLines}${lines}</svg>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;white-space:nowrap}th{background:#f3f3f3}
.status{font-weight:600}.plots{display:flex;flex-wrap:wrap;gap:16px}.plots figure{margin:0}
figcaption{font-size:12px;color:#555}.bar{fill:#1f77b4}.axis{stroke:#444}.grid{stroke:#e4e4e4}
.scroll{overflow-x:auto;max-width:100%}.cases td:first-child,.cases th:first-child{position:sticky;left:0;background:#fff}
.tick{font-size:10px;fill:#555}.note{color:#555}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}`;

/**
 * A self-contained HTML page: inline CSS and inline SVG plots, no scripts and nothing fetched — it opens from a
 * CI artifact or an e-mail as it is. Plots: an abs-error histogram per backend and max abs error per time step.
 */
export function htmlReport(report: Report): string {
  const labels = report.comparison.histogramBins;
  const ran = report.backends.filter((b) => b.cases.some((c) => c.outputs.length > 0));
  const statusCell = (s: string) => `<td class="status" style="color:${STATUS_COLORS[s] ?? '#222'}">${esc(s)}</td>`;
  const head = `<tr><th>backend</th><th>status</th><th>max abs</th>${report.cases.map((c) => `<th>${esc(c.id)}</th>`).join('')}</tr>`;
  const rows = report.backends
    .map((b) => {
      const cells = report.cases.map((c) => {
        const cr = b.cases.find((x) => x.id === c.id);
        if (!cr) return '<td>-</td>';
        const max = Math.max(0, ...cr.outputs.map((o) => o.maxAbs));
        return `<td style="color:${STATUS_COLORS[cr.status] ?? '#222'}" title="${esc(cr.error ?? '')}">${esc(cr.status)} ${cr.outputs.length ? fmtErr(max) : ''}</td>`;
      });
      return `<tr><td>${esc(b.name)}</td>${statusCell(b.status)}<td>${b.cases.length ? fmtErr(b.maxAbs) : '-'}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  // Backends with the same status and explanation share one item: a long reason is printed once.
  const grouped = new Map<string, string[]>();
  for (const b of report.backends.filter((x) => x.reason)) {
    const key = `(${esc(b.status)}): ${esc(b.reason!)}${b.enable ? ` — ${esc(b.enable)}` : ''}`;
    grouped.set(key, [...(grouped.get(key) ?? []), b.name]);
  }
  const reasons = [...grouped.entries()].map(([key, names]) => `<li><b>${names.map(esc).join(', ')}</b> ${key}</li>`).join('');
  const hist = ran
    .map((b) => `<figure>${histogramSvg(b, labels)}<figcaption>${esc(b.name)}: |actual − ${esc(report.expected.source === 'baseline' ? expectedLabel(report.expected) : 'expected')}| per element, all cases and outputs</figcaption></figure>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gru-onnx verification report</title><style>${CSS}</style></head>
<body>
<h1>gru-onnx verification report</h1>
<p class="status" style="color:${report.summary.status === 'pass' ? STATUS_COLORS.pass : STATUS_COLORS.fail}">${report.summary.status.toUpperCase()} (exit ${report.summary.exitCode}): ${esc(report.summary.message)}</p>
${(report.warnings ?? []).map((w) => `<p class="warning"><strong>Warning:</strong> ${esc(w)}</p>`).join('')}<p>${report.expected.source === 'baseline' ? `Expected: ${esc(expectedLabel(report.expected))} (${esc(report.expected.description)})` : `Expected values: ${esc(report.expected.description)}`}. Inputs: ${esc(report.input.source)}${report.input.seed !== null ? `, seed ${report.input.seed}` : ""}. Rule: ${esc(report.comparison.rule)}.</p>
<h2>Max abs error by backend and case</h2>
<div class="scroll"><table class="cases">${head}\n${rows}</table></div>
${reasons ? `<ul>${reasons}</ul>` : ''}
${report.backends.some((b) => b.localization) ? `<h2>Where each failing backend first diverges</h2>\n${report.backends.filter((b) => b.localization).map((b) => `<ul class="localize">${localizationLines(b.name, b.localization!).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`).join('\n')}\n` : ''}<h2>Error histogram per backend</h2>
<div class="plots">${hist || '<p class="note">No backend ran.</p>'}</div>
<h2>${report.backends.some((b) => b.cases.some((c) => c.stepRun)) ? 'Max abs error per step of the stateful run' : 'Max abs error of hidden_states per time step'}</h2>
<div class="plots">${stepsSvg(ran)}</div>
<h2>Details</h2>
<pre>${esc(markdownReport(report))}</pre>
</body></html>
`;
}
