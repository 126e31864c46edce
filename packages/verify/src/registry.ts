import type { BackendName, Probe, Runner } from './runner.ts';
import { BACKENDS } from './runner.ts';
import { UserError } from '@gru-onnx/model';
import type { RunnerOptions } from './runners/common.ts';
import { createReferenceRunner } from './runners/reference.ts';
import { createTfjsRunner } from './runners/tfjs.ts';
import { createOrtCpuRunner } from './runners/ort-cpu.ts';
import { createOrtCudaRunner } from './runners/ort-cuda.ts';
import { createOrtWasmRunner } from './runners/ort-wasm.ts';
import { createBrowserWasmRunner } from './runners/browser-wasm.ts';
import { createBrowserWebgpuJsepRunner, createBrowserWebgpuRunner } from './runners/browser-webgpu.ts';

export type { RunnerOptions } from './runners/common.ts';

/**
 * Backend name → runner factory. Creating a runner loads nothing heavy: onnxruntime, tfjs, playwright and
 * Chromium start only when a probe or run needs them.
 */
export const RUNNER_FACTORIES: Readonly<Record<BackendName, (options?: RunnerOptions) => Runner>> = {
  reference: () => createReferenceRunner(),
  tfjs: createTfjsRunner,
  'ort-cpu': createOrtCpuRunner,
  'ort-cuda': createOrtCudaRunner,
  'ort-wasm': createOrtWasmRunner,
  'browser-wasm': createBrowserWasmRunner,
  'browser-webgpu': createBrowserWebgpuRunner,
  'browser-webgpu-jsep': createBrowserWebgpuJsepRunner,
};

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

export function createRunner(name: string, options: RunnerOptions = {}): Runner {
  if (!isBackendName(name)) throw new UserError(`unknown backend '${name}' (choose from ${BACKENDS.join(', ')})`);
  return RUNNER_FACTORIES[name](options);
}

export interface ProbeReport {
  name: BackendName;
  probe: Probe;
}

/**
 * Probes the named backends (default: all) concurrently and closes the runners it made (a browser probe starts
 * Chromium). A probe that throws is reported as unavailable with its message.
 */
export async function probeAll(names: readonly BackendName[] = BACKENDS, options: RunnerOptions = {}): Promise<ProbeReport[]> {
  return Promise.all(
    names.map(async (name): Promise<ProbeReport> => {
      const runner = createRunner(name, options);
      try {
        return { name, probe: await runner.probe() };
      } catch (err) {
        return { name, probe: { available: false, reason: err instanceof Error ? err.message : String(err), enable: '' } };
      } finally {
        await runner.close();
      }
    }),
  );
}
