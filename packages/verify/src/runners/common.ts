import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '@gru-onnx/model';
import type { BackendName, Feeds } from '../runner.ts';
import { TimeoutError } from '../timeout.ts';

/** Options every runner factory accepts; each runner reads the ones that concern it and ignores the rest. */
export interface RunnerOptions {
  /** Per-run limit in ms (default 60 000). Past it the run ends with an error and its child or browser is killed. */
  timeoutMs?: number;
  /**
   * Resolves a package name to its entry file. Tests replace it to simulate a missing library; the default
   * resolves from this package, then from the working directory.
   */
  resolveModule?: (specifier: string) => string;
  /** onnxruntime intra-op threads (ort-cpu, ort-cuda) or wasm threads (ort-wasm, browser-*). Default 1. */
  threads?: number;
  /** ort-cuda: allow TF32 in cuBLAS/cuDNN. Default false. */
  tf32?: boolean;
  /** ort-cuda: GPU index. Default 0. */
  deviceId?: number;
  /** browser-*: Chromium executable. Default: $GRU_ONNX_CHROMIUM, else /usr/bin/chromium. */
  chromiumPath?: string;
  /**
   * browser-webgpu*: which WebGPU adapter Chromium offers. `hardware`: the machine's GPU only; `software`:
   * SwiftShader; `auto` (default): the GPU when Chromium finds one, else SwiftShader.
   */
  webgpuAdapter?: 'auto' | 'hardware' | 'software';
  /** tfjs: backend choice passed to tfjsForward ('auto', 'wasm', 'cpu', 'tensorflow'). Default 'auto'. */
  tfjsBackend?: string;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

export function timeoutOf(options: RunnerOptions): number {
  const t = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(t > 0)) throw new UserError(`timeout must be a positive number of ms, got ${t}`);
  return t;
}

export function threadsOf(options: RunnerOptions): number {
  const n = options.threads ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`threads must be a positive integer, got ${n}`);
  return n;
}

/** Resolves from this package, then from the working directory (where a user would install an optional library). */
export function defaultResolveModule(specifier: string): string {
  let first: unknown;
  for (const base of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return createRequire(base).resolve(specifier);
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

/** The resolved entry of `specifier`, or why it cannot be resolved (one line). */
export function tryResolve(options: RunnerOptions, specifier: string): { path: string } | { reason: string } {
  try {
    return { path: (options.resolveModule ?? defaultResolveModule)(specifier) };
  } catch (err) {
    return { reason: `${specifier} is not installed (${firstLine(err)})` };
  }
}

/** The version in the package.json above a resolved entry file. */
export function packageVersion(entry: string, name: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
    }
  }
  return 'unknown';
}

export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}

/**
 * Test hook for stuck and crashing backends: GRU_ONNX_TEST_FAULT="ort-cpu:hang,browser-wasm:crash" makes the
 * named runners' runs hang (never answer) or crash (the child or page dies); `flood` (ort workers) makes the
 * worker write 4 MiB of log with raw synchronous writes first, as onnxruntime's verbose log does. Never set outside
 * tests.
 */
export function faultFor(name: BackendName): 'hang' | 'crash' | 'flood' | undefined {
  for (const item of (process.env.GRU_ONNX_TEST_FAULT ?? '').split(',')) {
    const [backend, kind] = item.split(':');
    if (backend === name && (kind === 'hang' || kind === 'crash' || kind === 'flood')) return kind;
  }
  return undefined;
}

/**
 * Runs `work` under a deadline and an abort signal. On timeout or abort, `cancel` runs (kill the child, close the
 * browser) and the promise rejects with an error naming the cause.
 */
export async function withDeadline<T>(
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  work: Promise<T>,
  cancel: () => void | Promise<void>,
): Promise<T> {
  signal?.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // Set before cancelling: the work then fails too ("target closed", "worker exited"), and this is the real cause.
  let stopped: Error | undefined;
  const stop = new Promise<never>((_, reject) => {
    const halt = (err: Error): void => {
      stopped = err;
      void Promise.resolve(cancel()).finally(() => reject(stopped));
    };
    // A TimeoutError, so verify skips the backend's remaining cases: one timeout per backend, not one per case.
    timer = setTimeout(() => halt(new TimeoutError(`${name}: no answer within ${timeoutMs} ms (the run's timeout); stopped it`)), timeoutMs);
    onAbort = () => halt(new Error(`${name}: run aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stop]);
  } catch (err) {
    throw stopped ?? err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Element count of `dims`, refusing negative or fractional sizes. */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new UserError(`invalid dimension ${d} in [${dims.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** Checks each feed's data length against its dims. */
export function checkFeeds(feeds: Feeds): void {
  for (const [name, t] of Object.entries(feeds)) {
    if (sizeOf(t.dims) !== t.data.length) {
      throw new UserError(`input '${name}': ${t.data.length} values for shape [${t.dims.join(', ')}]`);
    }
  }
}

/**
 * A model's identity for the session a child or page keeps across runs (they hold one per model): its bytes'
 * SHA-256, computed once per buffer.
 */
const modelKeys = new WeakMap<Uint8Array, string>();
export function modelKeyOf(model: Uint8Array): string {
  let key = modelKeys.get(model);
  if (key === undefined) {
    key = createHash('sha256').update(model).digest('hex');
    modelKeys.set(model, key);
  }
  return key;
}
