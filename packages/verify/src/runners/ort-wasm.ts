import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Job, Probe, RunResult, Runner } from '../runner.ts';
import type { RunnerOptions } from './common.ts';
import { packageVersion, threadsOf, timeoutOf, tryResolve } from './common.ts';
import { OrtChild } from './ort-process.ts';

/**
 * onnxruntime-web 1.30 ships only SIMD builds of its wasm (ort-wasm-simd-threaded*.wasm), so a run that
 * loads at all runs SIMD code; this is the file its Node entry loads.
 */
export const ORT_WEB_WASM = 'ort-wasm-simd-threaded.wasm';

export function findOrtWeb(options: RunnerOptions): { path: string; version: string; distDir: string } | { reason: string; enable: string } {
  const r = tryResolve(options, 'onnxruntime-web');
  const enable = 'install onnxruntime-web 1.30.0 (pnpm install in this workspace)';
  if ('reason' in r) return { reason: r.reason, enable };
  const distDir = dirname(r.path);
  if (!existsSync(join(distDir, ORT_WEB_WASM))) return { reason: `onnxruntime-web has no ${ORT_WEB_WASM} in ${distDir}`, enable };
  return { path: r.path, version: packageVersion(r.path, 'onnxruntime-web'), distDir };
}

/**
 * onnxruntime-web's wasm backend in Node, in a worker child (its verbose log goes to the child's console; one
 * session per model, kept across runs with the loaded wasm).
 */
export function createOrtWasmRunner(options: RunnerOptions = {}): Runner {
  const threads = threadsOf(options);
  const timeoutMs = timeoutOf(options);
  let child: OrtChild | undefined;
  return {
    name: 'ort-wasm',
    async probe(): Promise<Probe> {
      const found = findOrtWeb(options);
      if ('reason' in found) return { available: false, reason: found.reason, enable: found.enable };
      return {
        available: true,
        versions: { 'onnxruntime-web': found.version },
        settings: { executionProvider: 'wasm', numThreads: threads, simd: true, wasm: ORT_WEB_WASM },
      };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      const found = findOrtWeb(options);
      if ('reason' in found) throw new Error(`ort-wasm: ${found.reason}`);
      child ??= new OrtChild('ort-wasm', { runtime: 'web', modulePath: found.path, executionProviders: ['wasm'], threads, profile: false });
      const r = await child.run(job, timeoutMs, signal);
      return { ...r, settings: { executionProvider: 'wasm', simd: true, wasm: ORT_WEB_WASM, ...r.settings } };
    },
    async close(): Promise<void> {
      await child?.close();
    },
  };
}
