import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Job, Probe, RunResult, Runner } from '../runner.ts';
import type { RunnerOptions } from './common.ts';
import { packageVersion, threadsOf, timeoutOf, tryResolve } from './common.ts';
import { OrtChild } from './ort-process.ts';

/** The native binding directory of the installed onnxruntime-node for this platform. */
export function ortNodeBindingDir(entry: string): string {
  // entry is <pkg>/dist/index.js; binaries live in <pkg>/bin/napi-v6/<platform>/<arch>/.
  return join(dirname(dirname(entry)), 'bin', 'napi-v6', process.platform, process.arch);
}

/** Resolves onnxruntime-node and checks its native binding is present, without loading it. */
export function findOrtNode(options: RunnerOptions): { path: string; version: string; bindingDir: string } | { reason: string; enable: string } {
  const r = tryResolve(options, 'onnxruntime-node');
  const enable = 'install onnxruntime-node 1.29.0 (pnpm install in this workspace)';
  if ('reason' in r) return { reason: r.reason, enable };
  const bindingDir = ortNodeBindingDir(r.path);
  if (!existsSync(join(bindingDir, 'onnxruntime_binding.node'))) {
    return { reason: `onnxruntime-node has no native binding for ${process.platform}-${process.arch} at ${bindingDir}`, enable };
  }
  return { path: r.path, version: packageVersion(r.path, 'onnxruntime-node'), bindingDir };
}

/** onnxruntime-node on its CPU execution provider, in a worker child (a fresh session and profile per run). */
export function createOrtCpuRunner(options: RunnerOptions = {}): Runner {
  const threads = threadsOf(options);
  const timeoutMs = timeoutOf(options);
  let child: OrtChild | undefined;
  return {
    name: 'ort-cpu',
    async probe(): Promise<Probe> {
      const found = findOrtNode(options);
      if ('reason' in found) return { available: false, reason: found.reason, enable: found.enable };
      return { available: true, versions: { 'onnxruntime-node': found.version }, settings: { executionProvider: 'cpu', intraOpNumThreads: threads } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      const found = findOrtNode(options);
      if ('reason' in found) throw new Error(`ort-cpu: ${found.reason}`);
      child ??= new OrtChild('ort-cpu', { runtime: 'node', modulePath: found.path, executionProviders: ['cpu'], threads, profile: true });
      const r = await child.run(job, timeoutMs, signal);
      return { ...r, settings: { executionProvider: 'cpu', ...r.settings } };
    },
    async close(): Promise<void> {
      await child?.close();
    },
  };
}
