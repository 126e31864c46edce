import { describe, expect, it } from 'vitest';
import { TimeoutError, withTimeout } from './timeout.ts';

/** A stuck call as runners are written (async): it rejects only once its signal aborts. */
const never = async (signal: AbortSignal): Promise<never> => {
  await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('inner saw abort')), { once: true }));
  throw new Error('unreachable');
};

describe('withTimeout', () => {
  it('returns the answer of a call that finishes in time', async () => {
    await expect(withTimeout('run', 1000, undefined, async () => 42)).resolves.toBe(42);
  });

  it('throws a TimeoutError naming the call and the limit, and aborts the call, after the grace', async () => {
    let seen: AbortSignal | undefined;
    const t0 = performance.now();
    const err = await withTimeout('probe', 40, undefined, (s) => ((seen = s), never(s))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('probe timed out: no answer within 40 ms');
    expect(seen!.aborted).toBe(true);
    // 40 ms plus half of it as grace, so a runner that stops itself at 40 ms reports its own reason first.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
  });

  it('reports the timeout, not the error of a call that rejects in the same tick as its signal aborts', async () => {
    // A plain (non-async) promise whose reject runs inside the abort event, before withTimeout's own settles.
    const eager = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('inner saw abort')), { once: true }));
    await expect(withTimeout('run', 20, undefined, eager)).rejects.toBeInstanceOf(TimeoutError);
    const outer = new AbortController();
    setTimeout(() => outer.abort(), 5);
    await expect(withTimeout('run', 1000, outer.signal, eager)).rejects.toThrow('run interrupted');
  });

  it('stops at once, not as a timeout, when the outer signal aborts (already or later)', async () => {
    const done = new AbortController();
    done.abort();
    const e1 = await withTimeout('run', 60_000, done.signal, never).catch((e: unknown) => e);
    expect(e1).not.toBeInstanceOf(TimeoutError);
    expect((e1 as Error).message).toBe('run interrupted');
    const later = new AbortController();
    setTimeout(() => later.abort(), 10);
    await expect(withTimeout('close', 60_000, later.signal, never)).rejects.toThrow('close interrupted');
  });
});
