import type { BackendName } from './runner.ts';
import type { BackendReport, Report } from './report.ts';

/**
 * The exit code of a verification (the command-line contract in the README):
 * - 1 when any backend is `fail` or `error` (a crash or timeout is not a pass), or is `partial` and was required;
 *   a `partial` backend that was not required is reported but does not fail the run — it ran, matched, and the
 *   report says which ops fell back.
 * - otherwise 3 when a required backend is `unavailable` or was not run at all, or when no backend could run, or
 *   when the `baseline` (whose outputs are the expected values) is unavailable or ran alone: nothing was compared.
 * - otherwise 0. A mismatch outranks a missing backend: a wrong answer is what a release gate must never miss.
 */
export function exitCodeFor(backends: BackendReport[], require: readonly BackendName[], baseline?: BackendName): { code: 0 | 1 | 3; message: string } {
  const bad = backends.filter((b) => b.status === 'fail' || b.status === 'error' || (b.status === 'partial' && require.includes(b.name)));
  if (bad.length > 0) return { code: 1, message: bad.map((b) => `${b.name}: ${b.status}${b.reason ? ` (${b.reason})` : ''}`).join('; ') };
  const missing = require.filter((r) => !backends.some((b) => b.name === r && b.status !== 'unavailable'));
  if (missing.length > 0) return { code: 3, message: `required backend unavailable: ${missing.map((m) => {
    const b = backends.find((x) => x.name === m);
    return b?.reason ? `${m} (${b.reason})` : `${m} (not run)`;
  }).join('; ')}` };
  const base = baseline ? backends.find((b) => b.name === baseline) : undefined;
  if (base?.status === 'unavailable') return { code: 3, message: `the baseline backend ${base.name} is unavailable, so nothing could be compared: ${base.reason ?? ''}`.trim() };
  if (!backends.some((b) => b.status !== 'unavailable')) return { code: 3, message: 'no backend was available' };
  const ran = backends.filter((b) => b.status === 'pass' || b.status === 'partial').map((b) => b.name);
  if (base && ran.length === 0) return { code: 3, message: `only the baseline ${base.name} ran; no other backend was available to compare with it` };
  return { code: 0, message: `every available backend matches${base ? ` ${base.name}'s outputs` : ''}: ${ran.join(', ')}` };
}

/** Exit code of a report (0, 1 or 3; 2 is the caller's: a UserError before the report existed). */
export function exitCode(report: Report): number {
  return report.summary.exitCode;
}
