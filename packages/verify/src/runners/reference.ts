import { referenceForward, sourceForward, sourceSizes, type SourceModel } from '@gru-onnx/model';
import type { Job, NamedTensor, NamedTensor64, Probe, RunResult, Runner } from '../runner.ts';
import { checkFeeds } from './common.ts';
import { float32Data } from '../tensor.ts';
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

/**
 * The float64 forward of an imported model (PyTorch nn.GRU, tfjs-layers: sourceForward), as the `reference`
 * backend: x [batch, seq, input] → its one output [batch, output]. Like the seed's, it is a check of the harness
 * (it computes the expected values themselves); what it cannot check is whether the source's forward is the right one.
 */
export function createSourceReferenceRunner(source: SourceModel): Runner {
  return {
    name: 'reference',
    ownWeights: true,
    async probe(): Promise<Probe> {
      return { available: true, versions: {}, settings: { precision: 'float64', source: source.kind } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      signal?.throwIfAborted();
      checkFeeds(job.feeds);
      const inputs = Object.values(job.feeds);
      const x = inputs[0];
      if (inputs.length !== 1 || !x || x.dims.length !== 3) throw new Error(`the ${source.kind} reference takes one input x [batch, seq, input]`);
      const [batch, seq] = x.dims as [number, number];
      const { logits } = sourceForward(source, float32Data(x, `the ${source.kind} reference: input x`), batch, seq);
      const dims = [batch, sourceSizes(source).outputSize];
      const outputs: Record<string, NamedTensor> = {};
      const outputs64: Record<string, NamedTensor64> = {};
      for (const name of job.outputNames) {
        outputs64[name] = { dims, data: logits };
        outputs[name] = { dims, data: Float32Array.from(logits) };
      }
      return { outputs, outputs64, placements: [], settings: { precision: 'float64' } };
    },
    async close(): Promise<void> {
      // Holds nothing.
    },
  };
}
