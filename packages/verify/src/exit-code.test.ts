import { describe, expect, it } from 'vitest';
import { exitCodeFor } from './exit-code.ts';
import type { BackendReport, BackendStatus } from './report.ts';
import type { BackendName } from './runner.ts';

const b = (name: BackendName, status: BackendStatus, reason?: string): BackendReport => ({
  name,
  status,
  ...(reason !== undefined ? { reason } : {}),
  versions: {},
  settings: {},
  tolerance: { atol: 0, rtol: 0, source: 'test' },
  placements: [],
  fallbackNodes: [],
  maxAbs: 0,
  cases: [],
  timing: { probeMs: 0, totalMs: 0 },
});

describe('exitCodeFor', () => {
  it('0 when every available backend passed or was partial and not required, naming them', () => {
    expect(exitCodeFor([b('reference', 'pass'), b('ort-cuda', 'partial'), b('ort-wasm', 'unavailable')], [])).toEqual({
      code: 0,
      message: 'every available backend matches: reference, ort-cuda',
    });
  });

  it('1 for fail, error, and a required partial, with each reason', () => {
    expect(exitCodeFor([b('ort-cpu', 'fail', 'off by one')], [])).toEqual({ code: 1, message: 'ort-cpu: fail (off by one)' });
    expect(exitCodeFor([b('ort-cpu', 'error')], []).code).toBe(1);
    expect(exitCodeFor([b('ort-cuda', 'partial', 'GRU on CPU'), b('tfjs', 'error', 'x')], ['ort-cuda'])).toEqual({
      code: 1,
      message: 'ort-cuda: partial (GRU on CPU); tfjs: error (x)',
    });
  });

  it('3 for a required backend that was unavailable or not run, and when nothing could run', () => {
    expect(exitCodeFor([b('reference', 'pass'), b('ort-cuda', 'unavailable', 'no GPU')], ['ort-cuda', 'tfjs'])).toEqual({
      code: 3,
      message: 'required backend unavailable: ort-cuda (no GPU); tfjs (not run)',
    });
    expect(exitCodeFor([b('ort-cuda', 'unavailable')], [])).toEqual({ code: 3, message: 'no backend was available' });
    expect(exitCodeFor([], []).code).toBe(3);
  });

  it('a mismatch outranks a missing backend', () => {
    expect(exitCodeFor([b('ort-cpu', 'fail'), b('ort-cuda', 'unavailable')], ['ort-cuda']).code).toBe(1);
  });
});
