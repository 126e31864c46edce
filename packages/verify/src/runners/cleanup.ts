/**
 * What must not outlive this process (Chromium process groups, onnxruntime worker children, their temporary
 * directories), released on exit and on SIGINT/SIGTERM/SIGHUP. Each release function must be synchronous:
 * on 'exit' nothing asynchronous runs.
 */
const releases = new Set<() => void>();
let installed = false;

function releaseAll(): void {
  for (const release of [...releases]) {
    releases.delete(release);
    release();
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', releaseAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      releaseAll();
      // Alone, this listener would swallow the signal: step aside and let the default action end the process.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** Registers `release` until the returned function is called (which runs nothing; call `release` yourself). */
export function untilReleased(release: () => void): () => void {
  install();
  releases.add(release);
  return () => {
    releases.delete(release);
  };
}

/** Releases everything registered now, e.g. from a caller's own signal handler. */
export function releaseAllNow(): void {
  releaseAll();
}
