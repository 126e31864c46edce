import { localizationLines } from './localize/text.ts';
import type { BackendReport, CaseReport, Report } from './report.ts';
import { expectedLabel, fmtErr } from './report.ts';

function caseCell(c: CaseReport | undefined, b: BackendReport): string {
  if (!c) return '-';
  if (b.status === 'baseline' && c.status === 'pass') return 'baseline';
  if (c.status === 'error' || c.status === 'skipped') return c.status;
  const max = Math.max(0, ...c.outputs.map((o) => o.maxAbs));
  const nonFinite = c.outputs.some((o) => o.nonFiniteMismatches > 0) ? ' NaN' : '';
  const shape = c.outputs.some((o) => o.message !== undefined) ? ' shape' : '';
  const flips = (c.decisions ?? []).reduce((n, d) => n + d.flips, 0);
  const decided = (c.decisions ?? []).reduce((n, d) => n + d.decisions, 0);
  const step = c.stepRun?.firstOutOfTolerance ? ` @step ${c.stepRun.firstOutOfTolerance.step}` : '';
  return `${c.status} ${fmtErr(max)}${nonFinite}${shape}${flips > 0 ? ` flip ${flips}/${decided}` : ''}${step}`;
}

function backendNote(b: BackendReport): string | undefined {
  if (b.status === 'pass' || (b.status === 'baseline' && !b.reason)) return undefined;
  const enable = b.status === 'unavailable' && b.enable ? ` — ${b.enable}` : '';
  return `${b.name}: ${b.status}${b.reason ? `: ${b.reason}` : ''}${enable}`;
}

function table(rows: string[][], markdown: boolean): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, w: number) => s + ' '.repeat(w - [...s].length);
  const lines = rows.map((r) => (markdown ? `| ${r.map((c, i) => pad(c, widths[i]!)).join(' | ')} |` : r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()));
  const rule = markdown ? `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|` : widths.map((w) => '-'.repeat(w)).join('  ');
  return [lines[0], rule, ...lines.slice(1)].join('\n');
}

function grid(report: Report): string[][] {
  const header = ['backend', 'status', 'max abs', ...report.cases.map((c) => c.id)];
  const rows = report.backends.map((b) => [
    b.name,
    b.status,
    b.cases.length > 0 && b.status !== 'baseline' ? fmtErr(b.maxAbs) : '-',
    ...report.cases.map((c) => caseCell(b.cases.find((x) => x.id === c.id), b)),
  ]);
  return [header, ...rows];
}

/** Widest console table before its case columns wrap into blocks (each block repeats backend, status, max abs). */
export const CONSOLE_WIDTH = 160;

/** The grid cut into blocks of case columns that fit `width`: readable at any number of cases. */
function wrapped(rows: string[][], width: number): string {
  const fixed = 3;
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  const fixedWidth = w.slice(0, fixed).reduce((a, x) => a + x + 2, 0);
  const blocks: number[][] = [];
  let cur: number[] = [];
  let used = fixedWidth;
  for (let i = fixed; i < w.length; i++) {
    if (cur.length > 0 && used + w[i]! + 2 > width) {
      blocks.push(cur);
      cur = [];
      used = fixedWidth;
    }
    cur.push(i);
    used += w[i]! + 2;
  }
  if (cur.length > 0 || blocks.length === 0) blocks.push(cur);
  return blocks.map((cols) => table(rows.map((r) => [...r.slice(0, fixed), ...cols.map((i) => r[i] ?? '')]), false)).join('\n\n');
}

/**
 * Why each backend that did not pass did not, one line each; backends with the very same explanation (often a long
 * one: Chromium missing for both browser backends) share one line, so it is printed once.
 */
function notes(report: Report): string[] {
  const lines = new Map<string, string[]>();
  for (const b of report.backends) {
    const note = backendNote(b);
    if (note === undefined) continue;
    const rest = note.slice(b.name.length);
    lines.set(rest, [...(lines.get(rest) ?? []), b.name]);
  }
  return [...lines.entries()].map(([rest, names]) => `${names.join(', ')}${rest}`);
}

/**
 * The console table: one row per backend, one column per case (batch×seq), each cell the case's status and its
 * max abs error against the expected values (columns wrap into blocks past CONSOLE_WIDTH); below it, why each
 * backend that did not pass did not.
 */
export function consoleTable(report: Report): string {
  return [
    ...(report.warnings ?? []).map((w) => `warning: ${w}`),
    ...(report.model.randomOps ? [`note: the model draws random numbers (${report.model.randomOps.join(', ')}): its outputs differ between runs and runtimes by design`] : []),
    report.expected.source === 'baseline'
      ? `expected: ${expectedLabel(report.expected)} (the baseline backend); max abs error vs them; pass means |a − e| ≤ atol + rtol·|e| for every float element, integer and bool outputs equal`
      : `max abs error vs ${report.expected.description}; pass means |a − e| ≤ atol + rtol·|e| for every element`,
    wrapped(grid(report), CONSOLE_WIDTH),
    ...notes(report),
    ...report.backends.flatMap((b) => (b.localization ? localizationLines(b.name, b.localization).map((l, i) => (i === 0 ? `localize: ${l}` : `  ${l}`)) : [])),
    `${report.summary.status === 'pass' ? 'PASS' : 'FAIL'} (exit ${report.summary.exitCode}): ${report.summary.message}`,
  ].join('\n');
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown report: summary, backend × case table, tolerances and versions, first divergences. */
export function markdownReport(report: Report): string {
  const out: string[] = [];
  out.push('# gru-onnx verification report', '');
  out.push(`**${report.summary.status.toUpperCase()}** (exit ${report.summary.exitCode}): ${mdEscape(report.summary.message)}`, '');
  out.push(`- model: sha256 \`${report.model.sha256}\`, ${report.model.bytes} bytes; outputs ${report.model.outputs.map((o) => `\`${o.name}\``).join(', ')}`);
  for (const w of report.warnings ?? []) out.push(`- **warning:** ${mdEscape(w)}`);
  out.push(report.expected.source === 'baseline' ? `- expected: ${expectedLabel(report.expected)} — ${mdEscape(report.expected.description)}` : `- expected values: ${mdEscape(report.expected.description)}`);
  for (const s of report.input.specs ?? []) out.push(`- input \`${s.name}\`: ${s.dtype} [${s.dims.join(', ')}] ${mdEscape(s.spec)}`);
  out.push(`- inputs: ${report.input.source}${report.input.seed !== null ? `, seed ${report.input.seed}` : ''}`);
  if (report.environment.onnxruntimeVersions) out.push(`- onnxruntime: ${report.environment.onnxruntimeVersions}`);
  out.push(`- rule: ${report.comparison.rule}`);
  out.push(`- max rel error: ${report.comparison.relativeError}`, '');
  out.push('## Max abs error by backend and case', '');
  out.push(table(grid(report).map((r) => r.map(mdEscape)), true), '');
  out.push('## Backends', '');
  out.push(table([
    ['backend', 'status', 'atol', 'rtol', 'versions', 'settings', 'why'],
    ...report.backends.map((b) => [
      b.name,
      b.status,
      String(b.tolerance.atol),
      String(b.tolerance.rtol),
      Object.entries(b.versions).map(([k, v]) => `${k} ${v}`).join(', '),
      Object.entries(b.settings).map(([k, v]) => `${k}=${v}`).join(', '),
      mdEscape(b.reason ?? ''),
    ].map(mdEscape)),
  ], true), '');
  const divergences = report.backends.flatMap((b) =>
    b.cases.filter((c) => c.steps?.firstDivergence).map((c) => {
      const d = c.steps!.firstDivergence!;
      return `- ${b.name}, ${c.id}: batch ${d.batch}, step ${d.step}, unit ${d.unit}: got ${d.actual}, ${report.expected.source === 'baseline' ? expectedLabel(report.expected).replace(/outputs$/, 'value') : 'expected'} ${d.expected}`;
    }),
  );
  if (divergences.length > 0) out.push('## First divergence in hidden_states', '', ...divergences, '');
  const stateful = report.backends.flatMap((b) =>
    b.cases.filter((c) => c.stepRun).map((c) => {
      const r = c.stepRun!;
      const worst = Math.max(0, ...r.perStepMaxAbs.map((v) => (typeof v === 'number' ? v : Infinity)));
      const first = r.firstOutOfTolerance;
      const where = first ? `first out of tolerance at step ${first.step}${first.output ? ` (${first.output})` : ''}` : 'every step within tolerance';
      return `- ${b.name}, ${c.id}: ${r.steps} steps carrying ${r.carry.join(', ')}; max abs per step up to ${fmtErr(worst)}; ${where}`;
    }),
  );
  if (stateful.length > 0) out.push('## Stateful runs', '', ...stateful, '');
  const localized = report.backends.filter((b) => b.localization);
  if (localized.length > 0) {
    out.push('## Where each failing backend first diverges (--localize)', '');
    for (const b of localized) out.push(...localizationLines(b.name, b.localization!).map((l, i) => `${i === 0 ? '-' : '  -'} ${mdEscape(l)}`));
    out.push('');
  }
  const fellBack = report.backends.filter((b) => b.fallbackByOpType && Object.keys(b.fallbackByOpType).length > 0);
  if (fellBack.length > 0) {
    out.push('## Nodes off the accelerator, per op type', '');
    for (const b of fellBack) out.push(`- ${b.name}: ${Object.entries(b.fallbackByOpType!).map(([op, n]) => `${op} ×${n}`).join(', ')}`);
    out.push('');
  }
  const placed = report.backends.filter((b) => b.placements.length > 0);
  if (placed.length > 0) {
    out.push('## Node placements', '');
    for (const b of placed) out.push(`- ${b.name}: ${b.placements.map((p) => `${p.opType} \`${p.node}\` → ${p.ep}`).join(', ')}`);
    out.push('');
  }
  return out.join('\n');
}
