import { describe, expect, it } from 'vitest';
import { compareDecision, describeDecision, parseDecision } from './decisions.ts';

const t = (dims: number[], values: number[]) => ({ dims, data: Float32Array.from(values) });
const tol = { atol: 1e-3, rtol: 0 };

describe('decisions', () => {
  it('parses thresholds and argmax, and refuses anything else naming the option', () => {
    expect(parseDecision('prob>0.5')).toEqual({ kind: 'threshold', text: 'prob>0.5', output: 'prob', op: '>', threshold: 0.5 });
    expect(parseDecision(' y <= -1e-2 ')).toMatchObject({ op: '<=', threshold: -0.01, output: 'y' });
    expect(parseDecision('argmax(logits)')).toEqual({ kind: 'argmax', text: 'argmax(logits)', output: 'logits' });
    expect(() => parseDecision('prob=0.5')).toThrow("--decision 'prob=0.5': expected OUT>T (or >=, <, <=) or argmax(OUT)");
  });

  it('counts threshold flips; a flip whose expected value is within tolerance of the threshold is borderline', () => {
    const expected = t([4], [0.2, 0.7, 0.5005, 0.9]);
    const actual = t([4], [0.6, 0.7, 0.4995, 0.9]);
    const r = compareDecision(parseDecision('p>0.5'), actual, expected, tol)!;
    expect(r).toMatchObject({ decisions: 4, flips: 2, borderline: 1 });
    // The first non-borderline flip is the one shown.
    expect(r.firstFlip).toEqual({ index: [0], actual: expect.closeTo(0.6, 6) as number, expected: expect.closeTo(0.2, 6) as number, borderline: false });
    expect(describeDecision(r, "ort-cpu's")).toMatch(/^p>0.5: 2\/4 decisions flip \(1 borderline, within tolerance of the threshold\); first at \[0\]: got 0.6\d*, ort-cpu's 0.2\d*$/);
    expect(compareDecision(parseDecision('p>0.5'), expected, expected, tol)).toMatchObject({ flips: 0 });
  });

  it('counts argmax flips per row of the last axis; near-ties in the expected values are borderline', () => {
    const expected = t([3, 3], [0.1, 0.8, 0.1, 0.4, 0.4005, 0.2, 0.9, 0.05, 0.05]);
    const actual = t([3, 3], [0.8, 0.1, 0.1, 0.4005, 0.4, 0.2, 0.9, 0.05, 0.05]);
    const r = compareDecision(parseDecision('argmax(y)'), actual, expected, tol)!;
    expect(r).toMatchObject({ decisions: 3, flips: 2, borderline: 1, firstFlip: { index: [0], actual: 0, expected: 1, borderline: false } });
    expect(describeDecision(r)).toContain('got index 0, expected index 1');
  });

  it('skips a shape mismatch (the value comparison reports it)', () => {
    expect(compareDecision(parseDecision('p>0'), t([2], [1, 2]), t([3], [1, 2, 3]), tol)).toBeUndefined();
  });
});
