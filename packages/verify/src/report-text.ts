import type { BackendReport, CaseReport, Report } from './report.ts';
import { fmtErr } from './report.ts';

function caseCell(c: CaseReport | undefined): string {
  if (!c) return '-';
  if (c.status === 'error' || c.status === 'skipped') return c.status;
  const max = Math.max(0, ...c.outputs.map((o) => o.maxAbs));
  const nonFinite = c.outputs.some((o) => o.nonFiniteMismatches > 0) ? ' NaN' : '';
  const shape = c.outputs.some((o) => o.message !== undefined) ? ' shape' : '';
  return `${c.status} ${fmtErr(max)}${nonFinite}${shape}`;
}

function backendNote(b: BackendReport): string | undefined {
  if (b.status === 'pass') return undefined;
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
    b.cases.length > 0 ? fmtErr(b.maxAbs) : '-',
    ...report.cases.map((c) => caseCell(b.cases.find((x) => x.id === c.id))),
  ]);
  return [header, ...rows];
}

/**
 * The console table: one row per backend, one column per case (batch×seq), each cell the case's status and its
 * max abs error against the expected values; below it, why each backend that did not pass did not.
 */
export function consoleTable(report: Report): string {
  const notes = report.backends.map(backendNote).filter((n): n is string => n !== undefined);
  return [
    ...(report.warnings ?? []).map((w) => `warning: ${w}`),
    `max abs error vs ${report.expected.description}; pass means |a − e| ≤ atol + rtol·|e| for every element`,
    table(grid(report), false),
    ...notes,
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
  out.push(`- expected values: ${mdEscape(report.expected.description)}`);
  out.push(`- inputs: ${report.input.source}${report.input.seed !== null ? `, seed ${report.input.seed}` : ''}`);
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
      return `- ${b.name}, ${c.id}: batch ${d.batch}, step ${d.step}, unit ${d.unit}: got ${d.actual}, expected ${d.expected}`;
    }),
  );
  if (divergences.length > 0) out.push('## First divergence in hidden_states', '', ...divergences, '');
  const placed = report.backends.filter((b) => b.placements.length > 0);
  if (placed.length > 0) {
    out.push('## Node placements', '');
    for (const b of placed) out.push(`- ${b.name}: ${b.placements.map((p) => `${p.opType} \`${p.node}\` → ${p.ep}`).join(', ')}`);
    out.push('');
  }
  return out.join('\n');
}
