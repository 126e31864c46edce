import { referenceForward } from '@gru-onnx/model';
import type { Job, NamedTensor, NamedTensor64, Probe, RunResult, Runner } from '../runner.ts';
import { checkFeeds } from './common.ts';
import { seedInputs, seedOutputFor } from './seed-io.ts';

/**
 * The float64 TypeScript model (referenceForward) on the job's parameters: the numeric source of truth. Its
 * float32 outputs are rounded copies; compare against `outputs64`. Runs in-process and synchronously, so a
 * timeout cannot interrupt it (it has no native code or I/O to hang on).
 */
export function createReferenceRunner(): Runner {
  return {
    name: 'reference',
    async probe(): Promise<Probe> {
      return { available: true, versions: {}, settings: { precision: 'float64' } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      signal?.throwIfAborted();
      checkFeeds(job.feeds);
      const s = seedInputs('reference', job);
      const out = referenceForward(s.params, s.x, s.batch, s.seq, s.h0);
      const outputs: Record<string, NamedTensor> = {};
      const outputs64: Record<string, NamedTensor64> = {};
      for (const name of job.outputNames) {
        const which = seedOutputFor(name);
        outputs64[name] = { dims: s.dims[which], data: out[which] };
        outputs[name] = { dims: s.dims[which], data: Float32Array.from(out[which]) };
      }
      return { outputs, outputs64, placements: [], settings: { precision: 'float64' } };
    },
    async close(): Promise<void> {
      // Holds nothing.
    },
  };
}
