/** A run, probe or close that did not answer in time (as opposed to one that failed or was interrupted). */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Runs `f` under a deadline of `ms` plus a grace; on timeout `f`'s signal is aborted and a TimeoutError is thrown
 * (the promise is abandoned). When `outer` aborts, `f`'s signal is aborted and an "interrupted" Error is thrown.
 */
export async function withTimeout<T>(what: string, ms: number, outer: AbortSignal | undefined, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // Grace past the runner's own deadline, so a runner that stops itself reports its own reason first.
  const guard = ms + Math.min(5000, ms / 2);
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TimeoutError(`${what} timed out: no answer within ${ms} ms`);
      // Settle first: a call that rejects synchronously on abort would otherwise win the race with its own error.
      reject(err);
      ac.abort(err);
    }, guard);
    if (outer) {
      onAbort = () => {
        const err = new Error(`${what} interrupted`);
        reject(err);
        ac.abort(err);
      };
      if (outer.aborted) onAbort();
      else outer.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([f(ac.signal), stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
  }
}
