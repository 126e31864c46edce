import { describe, expect, it } from 'vitest';
import { benchLocalize } from './localize.ts';

describe("localize bench (one small round: it runs and reports; the numbers are the bench's job)", () => {
  it('finds the planted node in one instrumented run per backend and reports both times', async () => {
    const b = await benchLocalize(30, 1);
    expect(b.found).toBe('n20');
    expect(b.instrumentedRuns).toBe(1);
    expect(b.plainMs).toBeGreaterThan(0);
    expect(b.ratio).toBeCloseTo(b.localizeMs / b.plainMs, 10);
  }, 60_000);
});
