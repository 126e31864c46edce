import type { ExpectedTensor, Tolerance } from './compare.ts';
import { jsonNumber } from './compare.ts';
import type { NamedTensor } from './runner.ts';
import { floatValues, isFloat, dtypeOf } from './tensor.ts';

/** The earliest time step at which a hidden state leaves tolerance, and where. */
export interface Divergence {
  batch: number;
  step: number;
  unit: number;
  actual: number | string;
  expected: number | string;
}

export interface StepAnalysis {
  /** Max |a − e| over batch and units at each time step (finite pairs); a non-finite mismatch counts as Infinity → written "Infinity". */
  perStepMaxAbs: (number | string)[];
  /** Undefined when every step is inside tolerance. */
  firstDivergence?: Divergence;
}

/**
 * Walks `hidden_states` [batch, seq, hidden] in time order: a recurrence that goes wrong at step t shows there
 * first, so the earliest (step, batch, unit) outside |a − e| ≤ atol + rtol·|e| is where to look. Returns
 * undefined when the shapes disagree (the shape check in compareOutput already reports that).
 */
export function analyzeSteps(actual: NamedTensor | undefined, expected: ExpectedTensor, tol: Tolerance): StepAnalysis | undefined {
  if (actual === undefined || expected.dims.length !== 3) return undefined;
  const [B, T, H] = expected.dims as [number, number, number];
  if (actual.dims.length !== 3 || actual.dims[0] !== B || actual.dims[1] !== T || actual.dims[2] !== H) return undefined;
  if (!isFloat(dtypeOf(actual)) || !isFloat(dtypeOf(expected))) return undefined;
  const av = floatValues(actual);
  const ev = floatValues(expected);
  const perStep = new Array<number>(T).fill(0);
  let first: Divergence | undefined;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const i = (b * T + t) * H + j;
        const a = av[i]!;
        const e = ev[i]!;
        let bad: boolean;
        if (Number.isFinite(a) && Number.isFinite(e)) {
          const err = Math.abs(a - e);
          if (err > perStep[t]!) perStep[t] = err;
          bad = !(err <= tol.atol + tol.rtol * Math.abs(e));
        } else {
          bad = !((Number.isNaN(a) && Number.isNaN(e)) || (a === e && !Number.isNaN(a)));
          if (bad) perStep[t] = Infinity;
        }
        if (bad && first === undefined) first = { batch: b, step: t, unit: j, actual: jsonNumber(a), expected: jsonNumber(e) };
      }
    }
  }
  const out: StepAnalysis = { perStepMaxAbs: perStep.map(jsonNumber) };
  if (first) out.firstDivergence = first;
  return out;
}
