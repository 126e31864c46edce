import { createRequire } from 'node:module';
import { tfjsForward } from '@gru-onnx/model';
import type { TfjsBackendChoice } from '@gru-onnx/model';
import { TFJS_BACKENDS, UserError } from '@gru-onnx/model';
import type { Job, NamedTensor, Probe, RunResult, Runner } from '../runner.ts';
import type { RunnerOptions } from './common.ts';
import { checkFeeds, firstLine, packageVersion, timeoutOf, withDeadline } from './common.ts';
import { seedInputs, seedOutputFor } from './seed-io.ts';

/** tfjs is @gru-onnx/model's dependency, not this package's: resolve it from there. */
function resolveFromModel(specifier: string): string {
  return createRequire(createRequire(import.meta.url).resolve('@gru-onnx/model/package.json')).resolve(specifier);
}

function backendOf(options: RunnerOptions): TfjsBackendChoice {
  const b = options.tfjsBackend ?? 'auto';
  if (!(TFJS_BACKENDS as readonly string[]).includes(b)) throw new UserError(`unknown tfjs backend '${b}' (choose one of ${TFJS_BACKENDS.join(', ')})`);
  return b as TfjsBackendChoice;
}

/**
 * The original model on TensorFlow.js (tfjsForward on the job's parameters), in-process. tfjs itself loads on
 * the first run. The timeout ends the wait but cannot stop a synchronous tfjs kernel already running.
 */
export function createTfjsRunner(options: RunnerOptions = {}): Runner {
  const resolve = options.resolveModule ?? resolveFromModel;
  const backend = backendOf(options);
  const timeoutMs = timeoutOf(options);
  const missing = (): { reason: string } | { version: string } => {
    try {
      return { version: packageVersion(resolve('@tensorflow/tfjs'), '@tensorflow/tfjs') };
    } catch (err) {
      return { reason: `@tensorflow/tfjs is not installed (${firstLine(err)})` };
    }
  };
  return {
    name: 'tfjs',
    async probe(): Promise<Probe> {
      const m = missing();
      if ('reason' in m) return { available: false, reason: m.reason, enable: 'install @tensorflow/tfjs 4.22.0 and @tensorflow/tfjs-backend-wasm (dependencies of @gru-onnx/model)' };
      return { available: true, versions: { '@tensorflow/tfjs': m.version }, settings: { backend } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      const m = missing();
      if ('reason' in m) throw new Error(`tfjs: ${m.reason}`);
      checkFeeds(job.feeds);
      const s = seedInputs('tfjs', job);
      const work = tfjsForward(s.params, s.x, s.batch, s.seq, s.h0, backend);
      const out = await withDeadline('tfjs', timeoutMs, signal, work, () => undefined);
      const outputs: Record<string, NamedTensor> = {};
      for (const name of job.outputNames) {
        const which = seedOutputFor(name);
        outputs[name] = { dims: s.dims[which], data: out[which] };
      }
      return { outputs, placements: [], settings: { backend: out.backend, '@tensorflow/tfjs': m.version } };
    },
    async close(): Promise<void> {
      // tfjs stays loaded for the process; its tensors were disposed by tfjsForward.
    },
  };
}
