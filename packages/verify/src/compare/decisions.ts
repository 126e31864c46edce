import { UserError } from '@gru-onnx/model';
import type { Tolerance } from '../compare.ts';
import { unravel } from '../compare.ts';
import type { Tensor } from '../tensor.ts';
import { dtypeOf, toNumbers } from '../tensor.ts';

/**
 * What a deployed model decides from an output, so that verify can count the decisions a backend changes:
 *   `OUT>0.5` (also >=, <, <=)   one decision per element: is it past the threshold?
 *   `argmax(OUT)`                one decision per row (last axis): which index is largest?
 * A flip is a decision that differs from the expected values'. It fails the run unless it is borderline: the
 * expected value lies within tolerance of the threshold (for argmax: the expected values of the two indices lie
 * within tolerance of each other), where any backend may fall either side.
 */
export type Decision =
  | { kind: 'threshold'; text: string; output: string; op: '>' | '>=' | '<' | '<='; threshold: number }
  | { kind: 'argmax'; text: string; output: string };

export interface DecisionReport {
  decision: string;
  output: string;
  /** Decisions made on this case (elements, or rows for argmax). */
  decisions: number;
  /** Decisions that differ from the expected values', borderline ones included. */
  flips: number;
  /** Flips where the expected value lies within tolerance of the threshold (or of the runner-up): they do not fail. */
  borderline: number;
  /** The first flip that is not borderline, else the first flip. Index: the element, or the row for argmax. */
  firstFlip?: { index: number[]; actual: number; expected: number; borderline: boolean };
}

export function parseDecision(text: string): Decision {
  const s = text.trim();
  const arg = /^argmax\(\s*([^()\s]+)\s*\)$/.exec(s);
  if (arg) return { kind: 'argmax', text: s, output: arg[1]! };
  const th = /^([^<>=\s]+)\s*(>=|<=|>|<)\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$/i.exec(s);
  if (th) return { kind: 'threshold', text: s, output: th[1]!, op: th[2] as '>' | '>=' | '<' | '<=', threshold: Number(th[3]) };
  throw new UserError(`--decision '${text}': expected OUT>T (or >=, <, <=) or argmax(OUT), e.g. 'prob>0.5'`);
}

const decide = (op: '>' | '>=' | '<' | '<=', v: number, t: number): boolean => (op === '>' ? v > t : op === '>=' ? v >= t : op === '<' ? v < t : v <= t);
const within = (a: number, e: number, tol: Tolerance): boolean => Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);

function argmax(v: Float64Array, from: number, n: number): number {
  let best = from;
  for (let i = from + 1; i < from + n; i++) if (v[i]! > v[best]! || (Number.isNaN(v[i]!) && !Number.isNaN(v[best]!))) best = i;
  return best - from;
}

/**
 * Counts the decisions `actual` flips against `expected`. Undefined when shapes differ or the output is not
 * numeric (the value comparison reports that).
 */
export function compareDecision(d: Decision, actual: Tensor | undefined, expected: Tensor, tol: Tolerance): DecisionReport | undefined {
  if (!actual || dtypeOf(actual) === 'string' || dtypeOf(expected) === 'string') return undefined;
  if (actual.dims.length !== expected.dims.length || actual.dims.some((x, i) => x !== expected.dims[i])) return undefined;
  const a = toNumbers(actual);
  const e = toNumbers(expected);
  const r: DecisionReport = { decision: d.text, output: d.output, decisions: 0, flips: 0, borderline: 0 };
  const flip = (index: number[], av: number, ev: number, borderline: boolean): void => {
    r.flips++;
    if (borderline) r.borderline++;
    if (!r.firstFlip || (r.firstFlip.borderline && !borderline)) r.firstFlip = { index, actual: av, expected: ev, borderline };
  };
  if (d.kind === 'threshold') {
    r.decisions = e.length;
    for (let i = 0; i < e.length; i++) {
      if (decide(d.op, a[i]!, d.threshold) !== decide(d.op, e[i]!, d.threshold)) flip(unravel(i, expected.dims), a[i]!, e[i]!, within(d.threshold, e[i]!, tol));
    }
    return r;
  }
  const n = expected.dims.at(-1) ?? 1;
  if (n === 0) return r;
  const rows = e.length / n;
  r.decisions = rows;
  for (let row = 0; row < rows; row++) {
    const ia = argmax(a, row * n, n);
    const ie = argmax(e, row * n, n);
    // Borderline: the expected values of the two indices are within tolerance of each other.
    if (ia !== ie) flip(unravel(row, expected.dims.slice(0, -1)), ia, ie, within(e[row * n + ia]!, e[row * n + ie]!, tol));
  }
  return r;
}

/** One line for a flip count, e.g. "prob>0.5: 3/10 decisions flip (1 borderline); first at [2]: got 0.61, expected 0.42". */
export function describeDecision(r: DecisionReport, expected = 'expected'): string {
  const f = r.firstFlip;
  const what = r.decision.startsWith('argmax') ? (v: number) => `index ${v}` : (v: number) => String(v);
  const first = f ? `; first at [${f.index.join(', ')}]: got ${what(f.actual)}, ${expected} ${what(f.expected)}${f.borderline ? ' (borderline)' : ''}` : '';
  return `${r.decision}: ${r.flips}/${r.decisions} decisions flip${r.borderline > 0 ? ` (${r.borderline} borderline, within tolerance of the threshold)` : ''}${first}`;
}
