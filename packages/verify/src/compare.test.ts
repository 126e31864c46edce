import { describe, expect, it } from 'vitest';
import { compareOutput, describeComparison, histogramBin, histogramLabels, HISTOGRAM_BINS, REL_FLOOR, unravel } from './compare.ts';
import { analyzeSteps } from './divergence.ts';

const tol = { atol: 1e-5, rtol: 1e-5 };
const f32 = (a: number[]) => Float32Array.from(a);
const f64 = (a: number[]) => Float64Array.from(a);

describe('compareOutput', () => {
  it('passes equal values and reports zero error', () => {
    const c = compareOutput('y', { dims: [2, 2], data: f32([0.5, -1, 2, 0]) }, { dims: [2, 2], data: f64([0.5, -1, 2, 0]) }, tol);
    expect(c.status).toBe('pass');
    expect(c.maxAbs).toBe(0);
    expect(c.failing).toBe(0);
    expect(c.histogram[0]).toBe(4);
  });

  it('checks shape before values: a mismatch is a fail with a message, not an exception', () => {
    const c = compareOutput('logits', { dims: [1, 4], data: f32([0, 0, 0, 0]) }, { dims: [2, 2], data: f64([0, 0, 0, 0]) }, tol);
    expect(c.status).toBe('fail');
    expect(c.message).toBe('logits: shape [1, 4], expected [2, 2]'.replace('logits:', 'output logits:'));
  });

  it('checks dtype: float64 from a backend is not float32', () => {
    const c = compareOutput('y', { dims: [1], data: Float64Array.of(1) }, { dims: [1], data: f64([1]) }, tol);
    expect(c.status).toBe('fail');
    expect(c.message).toBe('output y: dtype float64, expected float32');
  });

  it('reports a missing output', () => {
    expect(compareOutput('h_n', undefined, { dims: [1], data: f64([1]) }, tol).message).toMatch(/missing/);
  });

  it('uses |a − e| ≤ atol + rtol·|e|: the boundary passes, just past it fails', () => {
    const e = 1000;
    const bound = tol.atol + tol.rtol * e; // 0.01001
    const pass = compareOutput('y', { dims: [1], data: f32([e]) }, { dims: [1], data: f64([e - bound * 0.99]) }, tol);
    expect(pass.status).toBe('pass');
    const fail = compareOutput('y', { dims: [2], data: f32([0, e]) }, { dims: [2], data: f64([0, e - bound * 1.5]) }, tol);
    expect(fail.status).toBe('fail');
    expect(fail.failing).toBe(1);
    expect(fail.firstFailure?.index).toEqual([1]);
    expect(describeComparison(fail)).toMatch(/1\/2 elements outside tolerance; first at \[1\]/);
  });

  // The rule at exactly its bound, in numbers float32 and float64 hold exactly (so no rounding decides): atol 0.25,
  // rtol 0.5, |e| = 2 give the bound 0.25 + 0.5·2 = 1.25, where max(atol, rtol·|e|) would give 1 and rtol·|a| 1.875.
  it('passes an element exactly at atol + rtol·|expected| and fails one a float32 step past it', () => {
    const t = { atol: 0.25, rtol: 0.5 };
    const one = (a: number, e: number) => compareOutput('y', { dims: [1], data: f32([a]) }, { dims: [1], data: f64([e]) }, t).status;
    expect(one(3.25, 2)).toBe('pass'); // |a − e| = 1.25 = the bound: ≤, not <
    expect(one(0.75, 2)).toBe('pass'); // below e: the bound is symmetric
    expect(one(-3.25, -2)).toBe('pass'); // |e|, not e
    const past = Math.fround(3.25 + 2 ** -21); // the next float32 above 3.25
    expect(past).toBeGreaterThan(3.25);
    expect(one(past, 2)).toBe('fail');
    // Both terms count (a sum, not max): 1.2 passes only when atol is added to rtol·|e| = 1.
    expect(one(3.2, 2)).toBe('pass');
    // The scale is the expected value's, not the actual's: with rtol·|a| both of these would pass.
    expect(one(0.45, 0)).toBe('fail'); // bound 0.25; 0.25 + 0.5·0.45 would be 0.475
    expect(one(3.5, 2)).toBe('fail'); // 1.5 > 1.25; 0.25 + 0.5·3.5 would be 2
  });

  it('near-zero references do not inflate the relative error, and atol decides them', () => {
    const c = compareOutput('y', { dims: [1], data: f32([1e-9]) }, { dims: [1], data: f64([0]) }, tol);
    expect(c.status).toBe('pass');
    expect(c.maxRel).toBeCloseTo(1e-9 / REL_FLOOR, 12);
  });

  it('computes max, mean and p99 abs over finite pairs', () => {
    const n = 200;
    const e = new Float64Array(n);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = i < 197 ? 0 : i === 197 ? 0.25 : i === 198 ? 0.5 : 1; // three outliers
    const c = compareOutput('y', { dims: [n], data: a }, { dims: [n], data: e }, { atol: 2, rtol: 0 });
    expect(c.maxAbs).toBe(1);
    expect(c.meanAbs).toBeCloseTo(1.75 / 200, 12);
    expect(c.p99Abs).toBe(0.25); // nearest rank: the 198th of 200 sorted
    expect(c.status).toBe('pass');
  });

  it('never treats NaN vs Inf, finite vs NaN or +Inf vs −Inf as equal; same NaN/Inf positions agree', () => {
    const a = f32([NaN, Infinity, NaN, 1, Infinity, -Infinity]);
    const e = f64([NaN, Infinity, Infinity, NaN, -Infinity, 3]);
    const c = compareOutput('y', { dims: [6], data: a }, { dims: [6], data: e }, tol);
    expect(c.nonFiniteAgreements).toBe(2);
    expect(c.nonFiniteMismatches).toBe(4);
    expect(c.failing).toBe(0);
    expect(c.status).toBe('fail');
    expect(c.firstFailure).toEqual({ index: [2], actual: 'NaN', expected: 'Infinity' });
    expect(JSON.stringify(c)).not.toMatch(/null/);
  });

  it('bins abs errors by decade', () => {
    expect(histogramBin(0)).toBe(0);
    expect(histogramBin(1e-20)).toBe(1);
    expect(histogramBin(3e-7)).toBe(histogramLabels().indexOf('1e-7'));
    expect(histogramBin(1e6)).toBe(HISTOGRAM_BINS - 1);
    expect(histogramLabels()).toHaveLength(HISTOGRAM_BINS);
  });

  it('reports unravelled indices for multi-dimensional outputs', () => {
    const e = new Float64Array(2 * 3 * 4);
    const a = new Float32Array(e.length);
    a[1 * 12 + 2 * 4 + 3] = 1;
    expect(compareOutput('y', { dims: [2, 3, 4], data: a }, { dims: [2, 3, 4], data: e }, tol).firstFailure?.index).toEqual([1, 2, 3]);
  });
});

describe('compareOutput, the messages a report shows', () => {
  const e2 = { dims: [2], data: f64([1, 2]) };

  it('names the dtype, a shape mismatch of the same size, and a data length that does not fit the shape', () => {
    const i32 = compareOutput('y', { dims: [2], data: Int32Array.of(1, 2) as unknown as Float32Array }, e2, tol);
    expect(i32.message).toBe('output y: dtype int32, expected float32');
    // Same element count, dims permuted or of another rank: still a shape mismatch, never compared as values.
    const perm = compareOutput('y', { dims: [2, 3, 1], data: new Float32Array(6) }, { dims: [2, 1, 3], data: new Float64Array(6) }, tol);
    expect(perm.message).toBe('output y: shape [2, 3, 1], expected [2, 1, 3]');
    expect(compareOutput('y', { dims: [2], data: f32([1, 2]) }, { dims: [2, 1], data: f64([1, 2]) }, tol).message).toBe('output y: shape [2], expected [2, 1]');
    expect(compareOutput('y', { dims: [2], data: ['1', '2'] }, e2, tol).message).toBe('output y: dtype string, expected float32');
    expect(compareOutput('y', { dims: [1, 2], data: f32([1, 2, 3]) }, { dims: [1, 2], data: f64([1, 2]) }, tol).message).toBe('output y: 3 values for shape [1, 2]');
    const long = compareOutput('y', { dims: [2], data: f32([1, 2, 3]) }, e2, tol);
    expect(long).toMatchObject({ status: 'fail', message: 'output y: 3 values for shape [2]', elements: 0 });
    expect(describeComparison(long)).toBe('output y: 3 values for shape [2]');
  });

  it('describes a pass, and a fail with both kinds of failure and a multi-dimensional first index', () => {
    const pass = compareOutput('h_n', { dims: [2], data: f32([1, 2.5]) }, { dims: [2], data: f64([1, 2.5 + 1e-6]) }, tol);
    expect(describeComparison(pass)).toBe('h_n: pass (max abs 1.00e-6 vs expected)');
    const a = f32([0, 0, 5, NaN]);
    const fail = compareOutput('y', { dims: [2, 2], data: a }, { dims: [2, 2], data: f64([0, 0, 0, 1]) }, tol);
    expect(describeComparison(fail)).toBe('y: 1/4 elements outside tolerance, 1 NaN/Inf mismatches; first at [1, 0]: got 5, expected 0');
    const nanOnly = compareOutput('y', { dims: [1], data: f32([NaN]) }, { dims: [1], data: f64([1]) }, tol);
    expect(describeComparison(nanOnly)).toBe('y: 1 NaN/Inf mismatches; first at [0]: got NaN, expected 1');
  });

  it('keeps the largest abs and relative error wherever it is, and p99 of unsorted errors', () => {
    const e = new Float64Array(200).fill(1);
    const a = new Float32Array(200).fill(1);
    a[0] = 2; // the largest, first
    a[1] = 1.5;
    a[2] = 1.25;
    const c = compareOutput('y', { dims: [200], data: a }, { dims: [200], data: e }, { atol: 2, rtol: 0 });
    expect([c.maxAbs, c.maxRel, c.p99Abs]).toEqual([1, 1, 0.25]);
  });

  it('has no finite pair to summarise when every value is NaN on both sides: zeros, not undefined', () => {
    const c = compareOutput('y', { dims: [2], data: f32([NaN, NaN]) }, { dims: [2], data: f64([NaN, NaN]) }, tol);
    expect(c).toMatchObject({ status: 'pass', maxAbs: 0, meanAbs: 0, p99Abs: 0, nonFiniteAgreements: 2 });
  });

  it('labels the histogram bins by decade, the first and last open-ended', () => {
    const labels = histogramLabels();
    expect(labels.slice(0, 3)).toEqual(['0', '<1e-11', '1e-11']);
    expect(labels.slice(-2)).toEqual(['1e0', '≥1e1']);
  });

  it('unravels a flat index, and gives zeros along an empty axis rather than NaN', () => {
    expect(unravel(23, [2, 3, 4])).toEqual([1, 2, 3]);
    expect(unravel(0, [3, 0])).toEqual([0, 0]);
  });
});

describe('analyzeSteps', () => {
  it('names the first (batch, step, unit) in time order with both values, and the per-step max', () => {
    const [B, T, H] = [2, 4, 3];
    const e = new Float64Array(B * T * H).map((_, i) => Math.sin(i));
    const a = Float32Array.from(e);
    a[(1 * T + 1) * H + 2] += 0.1; // batch 1, step 1, unit 2
    a[(0 * T + 3) * H + 0] += 0.5; // later step, earlier batch
    const s = analyzeSteps({ dims: [B, T, H], data: a }, { dims: [B, T, H], data: e }, tol)!;
    expect(s.firstDivergence).toMatchObject({ batch: 1, step: 1, unit: 2 });
    expect(s.firstDivergence!.expected).toBe(e[(1 * T + 1) * H + 2]);
    expect(s.perStepMaxAbs).toHaveLength(T);
    expect(s.perStepMaxAbs[3] as number).toBeCloseTo(0.5, 6);
    expect(s.perStepMaxAbs[0] as number).toBeLessThan(1e-7);
  });

  it('has no divergence when every step is inside tolerance, and skips mismatched shapes', () => {
    const e = new Float64Array(6).fill(0.25);
    expect(analyzeSteps({ dims: [1, 2, 3], data: Float32Array.from(e) }, { dims: [1, 2, 3], data: e }, tol)!.firstDivergence).toBeUndefined();
    expect(analyzeSteps({ dims: [1, 3, 2], data: Float32Array.from(e) }, { dims: [1, 2, 3], data: e }, tol)).toBeUndefined();
  });
});

// Integer, bool and string outputs: exact equality, whatever the tolerance says.
describe('compareOutput, exact dtypes', () => {
  const loose = { atol: 100, rtol: 100 };

  it('fails an int32 output on any differing element, however loose the tolerance, and reports the integer errors', () => {
    const c = compareOutput('idx', { dims: [2, 2], data: Int32Array.of(1, 5, -3, 7) }, { dtype: 'int32', dims: [2, 2], data: Int32Array.of(1, 15, -3, 4) }, loose);
    expect(c).toMatchObject({ status: 'fail', rule: 'exact', dtype: 'int32', elements: 4, failing: 2, maxAbs: 10, meanAbs: 13 / 4, p99Abs: 0 });
    expect(c.firstFailure).toEqual({ index: [0, 1], actual: 5, expected: 15 });
    // Two equal elements in bin 0, |5 − 15| = 10 (the largest, first) in the last bin, |7 − 4| = 3 in the 1e0 decade.
    const h = new Array<number>(HISTOGRAM_BINS).fill(0);
    h[0] = 2;
    h[histogramLabels().indexOf('1e0')] = 1;
    h[HISTOGRAM_BINS - 1] = 1;
    expect(c.histogram).toEqual(h);
    expect(describeComparison(c)).toBe('idx: 2/4 elements differ (compared exactly); first at [0, 1]: got 5, expected 15');
  });

  it('passes equal integers with zero error, and an empty tensor with zeros rather than NaN', () => {
    const same = compareOutput('idx', { dims: [3], data: Int32Array.of(-1, 0, 9) }, { dtype: 'int32', dims: [3], data: Int32Array.of(-1, 0, 9) }, { atol: 0, rtol: 0 });
    expect(same).toMatchObject({ status: 'pass', rule: 'exact', failing: 0, maxAbs: 0, meanAbs: 0 });
    expect(same.firstFailure).toBeUndefined();
    expect(same.histogram[0]).toBe(3);
    const empty = compareOutput('idx', { dims: [0], data: new Int32Array(0) }, { dtype: 'int32', dims: [0], data: new Int32Array(0) }, loose);
    expect(empty).toMatchObject({ status: 'pass', elements: 0, maxAbs: 0, meanAbs: 0 });
  });

  it('subtracts int64 values as BigInt: 2^60 + 1 vs 2^60 differ by exactly 1, which Number() alone would lose', () => {
    const big = 2n ** 60n;
    expect(Number(big + 1n) - Number(big)).toBe(0); // why BigInt subtraction is needed
    const c = compareOutput('ids', { dims: [2], data: BigInt64Array.of(big + 1n, 5n) }, { dtype: 'int64', dims: [2], data: BigInt64Array.of(big, 5n) }, loose);
    expect(c).toMatchObject({ status: 'fail', failing: 1, maxAbs: 1, meanAbs: 0.5 });
    // JSON has no BigInt: the first failure carries the decimal strings.
    expect(c.firstFailure).toEqual({ index: [0], actual: '1152921504606846977', expected: '1152921504606846976' });
    expect(() => JSON.stringify(c)).not.toThrow();
  });

  it('compares strings for equality, each differing element an error of 1', () => {
    const c = compareOutput('label', { dims: [3], data: ['cat', 'dog', 'cat'] }, { dtype: 'string', dims: [3], data: ['cat', 'cow', 'dog'] }, loose);
    expect(c).toMatchObject({ status: 'fail', rule: 'exact', failing: 2, maxAbs: 1, meanAbs: 2 / 3 });
    expect(c.firstFailure).toEqual({ index: [1], actual: 'dog', expected: 'cow' });
    expect(describeComparison(c, "ort-cpu's")).toBe("label: 2/3 elements differ (compared exactly); first at [1]: got dog, ort-cpu's cow");
  });

  it('compares bool outputs exactly, and refuses a uint8 tensor where bool is expected', () => {
    const c = compareOutput('mask', { dtype: 'bool', dims: [3], data: Uint8Array.of(1, 0, 0) }, { dtype: 'bool', dims: [3], data: Uint8Array.of(1, 1, 0) }, loose);
    expect(c).toMatchObject({ status: 'fail', dtype: 'bool', failing: 1, maxAbs: 1 });
    expect(c.firstFailure).toEqual({ index: [1], actual: 0, expected: 1 });
    const u8 = compareOutput('mask', { dims: [3], data: Uint8Array.of(1, 1, 0) }, { dtype: 'bool', dims: [3], data: Uint8Array.of(1, 1, 0) }, loose);
    expect(u8).toMatchObject({ status: 'fail', dtype: 'uint8', message: 'output mask: dtype uint8, expected bool', elements: 0 });
  });
});

// Half precision is held as 16-bit patterns; the comparison decodes them. The patterns are IEEE 754 binary16 and
// bfloat16 (the top half of a float32) by hand: 0x3C00 = 1, 0x3C01 = 1 + 2^-10, 0x4000 = 2, 0xC000 = −2,
// 0x7C00 = +Inf, 0xFC00 = −Inf, 0x7E00 = NaN; bfloat16 0x3F80 = 1, 0x3F81 = 1 + 2^-7, 0x4040 = 3.
describe('compareOutput, float16 and bfloat16', () => {
  const half = (dtype: 'float16' | 'bfloat16', bits: number[]) => ({ dtype, dims: [bits.length], data: Uint16Array.from(bits) });

  it('compares float16 values, not their bit patterns, under the rule at exactly its bound', () => {
    const t = { atol: 0, rtol: 2 ** -10 };
    const c = compareOutput('y', half('float16', [0x3c00, 0x3c01, 0x4000]), half('float16', [0x3c00, 0x3c00, 0xc000]), t);
    // 1 + 2^-10 vs 1: an error of exactly rtol·|e| passes; 2 vs −2 is an error of 4 (the patterns differ by 0x8000).
    expect(c).toMatchObject({ status: 'fail', dtype: 'float16', rule: { atol: 0, rtol: 2 ** -10, dtype: 'float16' }, failing: 1, maxAbs: 4 });
    expect(c.firstFailure).toEqual({ index: [2], actual: 2, expected: -2 });
    expect(c.meanAbs).toBe((2 ** -10 + 4) / 3);
    expect(compareOutput('y', half('float16', [0x3c01]), half('float16', [0x3c00]), t).status).toBe('pass');
  });

  it('decodes bfloat16 and float16 non-finite values: NaN agrees with NaN, +Inf does not with −Inf', () => {
    const b = compareOutput('y', half('bfloat16', [0x3f81, 0x4040]), half('bfloat16', [0x3f80, 0x4040]), { atol: 0, rtol: 0 });
    expect(b).toMatchObject({ status: 'fail', failing: 1, maxAbs: 2 ** -7 });
    expect(b.firstFailure).toEqual({ index: [0], actual: 1 + 2 ** -7, expected: 1 });
    const nf = compareOutput('y', half('float16', [0x7e00, 0x7c00]), half('float16', [0x7e00, 0xfc00]), { atol: 1, rtol: 1 });
    expect(nf).toMatchObject({ status: 'fail', nonFiniteAgreements: 1, nonFiniteMismatches: 1 });
    expect(nf.firstFailure).toEqual({ index: [1], actual: 'Infinity', expected: '-Infinity' });
  });

  it('refuses float16 against float32, and names the actual dtype on every mismatch', () => {
    const c = compareOutput('y', half('float16', [0x3c00]), { dims: [1], data: f64([1]) }, tol);
    expect(c).toMatchObject({ status: 'fail', dtype: 'float16', message: 'output y: dtype float16, expected float32' });
    const shape = compareOutput('y', half('float16', [0x3c00]), { dtype: 'float16', dims: [1, 1], data: Uint16Array.of(0x3c00) }, tol);
    expect(shape).toMatchObject({ dtype: 'float16', message: 'output y: shape [1], expected [1, 1]' });
    const len = compareOutput('y', { dtype: 'float16', dims: [1], data: Uint16Array.of(0x3c00, 0) }, { dtype: 'float16', dims: [1], data: Uint16Array.of(0x3c00) }, tol);
    expect(len).toMatchObject({ dtype: 'float16', message: 'output y: 2 values for shape [1]' });
  });
});
