import type { NamedTensor } from './runner.ts';
import type { DType, Tensor } from './tensor.ts';
import { dtypeOf, floatValues, isBig, isFloat } from './tensor.ts';

/**
 * Expected values: a bundle's or a baseline backend's tensor (its `dtype` set, compared dtype for dtype), or the
 * float64 reference's values for a float output (no `dtype`: any float actual is compared with them).
 */
export type ExpectedTensor = Tensor;

/** The pass/fail rule's parameters: an element passes when |a − e| ≤ atol + rtol·|e|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Relative error divides by max(|e|, REL_FLOOR), so references near zero (a hidden unit crossing 0) do not turn
 * a 1e-8 difference into a 100 % error. Outputs here are tanh states and logits of order 1; 1e-3 is well below
 * their scale. Max rel error is informational: pass/fail uses only |a − e| ≤ atol + rtol·|e|, where atol covers
 * the near-zero case.
 */
export const REL_FLOOR = 1e-3;

/** Absolute-error histogram bins: [0] exact zeros, then decades 10^k ≤ err < 10^(k+1) for k = MIN..MAX-1, then ≥ 10^MAX. */
export const HISTOGRAM_MIN_EXP = -12;
export const HISTOGRAM_MAX_EXP = 1;
export const HISTOGRAM_BINS = 1 + (HISTOGRAM_MAX_EXP - HISTOGRAM_MIN_EXP) + 1;

/** The first element (row-major) that breaks the rule, with both values. */
export interface WorstElement {
  index: number[];
  actual: number | string;
  expected: number | string;
}

export interface OutputComparison {
  output: string;
  status: 'pass' | 'fail';
  /** The actual tensor's dtype. */
  dtype?: DType;
  /** The rule applied: `exact` for integer, bool and string outputs; else the float tolerance of this dtype. */
  rule?: 'exact' | (Tolerance & { dtype: DType });
  /** Set when shape or dtype differ: then no element metrics are computed. */
  message?: string;
  dims: number[];
  elements: number;
  /** Metrics over positions where both values are finite. */
  maxAbs: number;
  maxRel: number;
  meanAbs: number;
  p99Abs: number;
  /** Finite pairs breaking |a − e| ≤ atol + rtol·|e|. */
  failing: number;
  /** Positions where exactly one side is NaN/±Inf, or both are non-finite but differ (NaN vs Inf, +Inf vs −Inf). */
  nonFiniteMismatches: number;
  /** Positions where both sides are NaN, or the same infinity: agreement, counted so it is visible. */
  nonFiniteAgreements: number;
  /** The first failing or mismatching element, row-major. */
  firstFailure?: WorstElement;
  histogram: number[];
}

/** JSON has no NaN/Infinity: non-finite values are written as strings. */
export function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

export function unravel(flat: number, dims: number[]): number[] {
  const idx = new Array<number>(dims.length).fill(0);
  let rest = flat;
  for (let d = dims.length - 1; d >= 0; d--) {
    const n = dims[d]!;
    idx[d] = n > 0 ? rest % n : 0;
    rest = n > 0 ? Math.floor(rest / n) : 0;
  }
  return idx;
}

export function histogramBin(err: number): number {
  if (err === 0) return 0;
  const k = Math.floor(Math.log10(err));
  if (k < HISTOGRAM_MIN_EXP) return 1;
  if (k >= HISTOGRAM_MAX_EXP) return HISTOGRAM_BINS - 1;
  return 1 + (k - HISTOGRAM_MIN_EXP);
}

/** Labels of the histogram bins, for reports. */
export function histogramLabels(): string[] {
  const labels = ['0'];
  for (let k = HISTOGRAM_MIN_EXP; k < HISTOGRAM_MAX_EXP; k++) labels.push(k === HISTOGRAM_MIN_EXP ? `<1e${k + 1}` : `1e${k}`);
  labels.push(`≥1e${HISTOGRAM_MAX_EXP}`);
  return labels;
}

const sameDims = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** 99th percentile by nearest rank. */
function percentile99(values: Float64Array): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

function emptyComparison(output: string, dims: number[], message: string): OutputComparison {
  return {
    output,
    status: 'fail',
    message,
    dims,
    elements: 0,
    maxAbs: 0,
    maxRel: 0,
    meanAbs: 0,
    p99Abs: 0,
    failing: 0,
    nonFiniteMismatches: 0,
    nonFiniteAgreements: 0,
    histogram: new Array<number>(HISTOGRAM_BINS).fill(0),
  };
}

/**
 * Compares one output. Shape and dtype come first: a mismatch is a `fail` with a message, not an exception.
 * Integer, bool and string outputs must match exactly (an index or a class is right or wrong); `failing` counts
 * the elements that differ. Floats (float16 and bfloat16 decoded) pass per element when
 * |a − e| ≤ atol + rtol·|e|, with `tol` chosen for the dtype by the caller. Non-finite values never pass by
 * accident: NaN vs Inf, finite vs non-finite, +Inf vs −Inf are mismatches; NaN vs NaN (or the same infinity) at
 * the same position agree — both sides say the value is undefined there.
 */
export function compareOutput(
  output: string,
  actual: NamedTensor | undefined,
  expected: ExpectedTensor,
  tol: Tolerance,
): OutputComparison {
  if (actual === undefined) return emptyComparison(output, expected.dims, `output ${output}: missing from the backend's results`);
  const dtype = dtypeOf(actual);
  // A float64 reference (no dtype) stands for a float32 output (the seed models' type); a stored or baseline
  // tensor names its dtype.
  const want = expected.dtype ?? 'float32';
  if (dtype !== want) return { ...emptyComparison(output, expected.dims, `output ${output}: dtype ${dtype}, expected ${want}`), dtype };
  if (!sameDims(actual.dims, expected.dims)) {
    return { ...emptyComparison(output, expected.dims, `output ${output}: shape [${actual.dims.join(', ')}], expected [${expected.dims.join(', ')}]`), dtype };
  }
  const n = expected.data.length;
  if (actual.data.length !== n) {
    return { ...emptyComparison(output, expected.dims, `output ${output}: ${actual.data.length} values for shape [${actual.dims.join(', ')}]`), dtype };
  }
  const c = emptyComparison(output, expected.dims, '');
  delete c.message;
  c.dtype = dtype;
  c.elements = n;
  if (!isFloat(dtype)) return compareExact(c, actual, expected);
  c.rule = { atol: tol.atol, rtol: tol.rtol, dtype };
  const actualValues = floatValues(actual);
  const expectedValues = floatValues(expected);
  const abs = new Float64Array(n);
  let finite = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = actualValues[i]!;
    const e = expectedValues[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if ((Number.isNaN(a) && Number.isNaN(e)) || (a === e && !Number.isNaN(a))) {
        c.nonFiniteAgreements++;
      } else {
        c.nonFiniteMismatches++;
        c.firstFailure ??= { index: unravel(i, expected.dims), actual: jsonNumber(a), expected: jsonNumber(e) };
      }
      continue;
    }
    const err = Math.abs(a - e);
    abs[finite++] = err;
    sum += err;
    if (err > c.maxAbs) c.maxAbs = err;
    const rel = err / Math.max(Math.abs(e), REL_FLOOR);
    if (rel > c.maxRel) c.maxRel = rel;
    c.histogram[histogramBin(err)]!++;
    if (!(err <= tol.atol + tol.rtol * Math.abs(e))) {
      c.failing++;
      c.firstFailure ??= { index: unravel(i, expected.dims), actual: a, expected: e };
    }
  }
  c.meanAbs = finite > 0 ? sum / finite : 0;
  c.p99Abs = percentile99(abs.subarray(0, finite));
  c.status = c.failing === 0 && c.nonFiniteMismatches === 0 ? 'pass' : 'fail';
  return c;
}

/** Element-for-element equality; abs metrics are informational (|a − e| as numbers; 0 or 1 for strings). */
function compareExact(c: OutputComparison, actual: Tensor, expected: Tensor): OutputComparison {
  c.rule = 'exact';
  const n = c.elements;
  const a = actual.data;
  const e = expected.data;
  const big = isBig(c.dtype!);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (x === y) {
      c.histogram[0]!++;
      continue;
    }
    // Both sides hold the same dtype (checked by the caller), so the actual's says which subtraction applies.
    const err = c.dtype === 'string' ? 1 : big ? Math.abs(Number(BigInt(x) - BigInt(y))) : Math.abs(Number(x) - Number(y));
    sum += err;
    if (err > c.maxAbs) c.maxAbs = err;
    c.histogram[histogramBin(err)]!++;
    c.failing++;
    c.firstFailure ??= { index: unravel(i, expected.dims), actual: typeof x === 'bigint' ? x.toString() : x, expected: typeof y === 'bigint' ? y.toString() : y };
  }
  c.meanAbs = n > 0 ? sum / n : 0;
  c.status = c.failing === 0 ? 'pass' : 'fail';
  return c;
}

/** The failing verdict in one line, for tables and messages; `expected` names the expected values (e.g. "ort-cpu's"). */
export function describeComparison(c: OutputComparison, expected = 'expected'): string {
  if (c.message !== undefined) return c.message;
  if (c.status === 'pass') return `${c.output}: pass (max abs ${c.maxAbs.toExponential(2)} vs ${expected})`;
  const parts = [];
  if (c.failing > 0) parts.push(`${c.failing}/${c.elements} elements ${c.rule === 'exact' ? 'differ (compared exactly)' : 'outside tolerance'}`);
  if (c.nonFiniteMismatches > 0) parts.push(`${c.nonFiniteMismatches} NaN/Inf mismatches`);
  const f = c.firstFailure;
  const first = f ? `; first at [${f.index.join(', ')}]: got ${f.actual}, ${expected} ${f.expected}` : '';
  return `${c.output}: ${parts.join(', ')}${first}`;
}
