import { onnx } from '@gru-onnx/onnx';
import { randomParams, referenceForward } from '@gru-onnx/model';
import type { ModelConfig, SeedParams } from '@gru-onnx/model';
import type { BackendName, Job, NamedTensor, Placement, Probe, Runner, RunResult } from './runner.ts';
import { float32Data } from './tensor.ts';

/** How a fake runner departs from the reference: the tests' planted bugs, hangs and failures. */
export interface FakeBehaviour {
  /** Changes the outputs in place after the reference computed them (a planted numeric error). */
  perturb?: (outputs: Record<string, NamedTensor>, job: Job) => void;
  unavailable?: string;
  throws?: string;
  /** Never resolves unless aborted: a stuck backend. */
  hang?: boolean;
  placements?: Placement[];
  versions?: Record<string, string>;
}

/**
 * A Runner that answers with the float64 reference rounded to float32, plus whatever `behaviour` plants. For tests
 * of the orchestration, comparison and reports, independent of any runtime; not a backend users can pick.
 */
export function fakeRunner(name: BackendName, behaviour: FakeBehaviour = {}): Runner & { closed: number } {
  return {
    name,
    closed: 0,
    async probe(): Promise<Probe> {
      if (behaviour.unavailable !== undefined) return { available: false, reason: behaviour.unavailable, enable: `install ${name}` };
      return { available: true, versions: behaviour.versions ?? { fake: '1.0.0' }, settings: { threads: 1 } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      if (behaviour.throws !== undefined) throw new Error(behaviour.throws);
      if (behaviour.hang) {
        await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      }
      if (!job.params) throw new Error('fake runner needs params');
      const x = Object.values(job.feeds).find((t) => t.dims.length === 3)!;
      const h0 = job.feeds.h0;
      const [B, T] = x.dims as [number, number];
      const ref = referenceForward(job.params, float32Data(x), B, T, h0 ? float32Data(h0) : undefined);
      const H = job.params['gru.W_hz.weight'].shape[0]!;
      const O = job.params['fc.weight'].shape[0]!;
      const all: Record<string, NamedTensor> = {
        logits: { dims: [B, O], data: Float32Array.from(ref.logits) },
        hidden_states: { dims: [B, T, H], data: Float32Array.from(ref.hiddenStates) },
        h_n: { dims: [B, H], data: Float32Array.from(ref.hN) },
      };
      const outputs: Record<string, NamedTensor> = {};
      for (const n of job.outputNames) if (all[n]) outputs[n] = all[n];
      behaviour.perturb?.(outputs, job);
      return { outputs, placements: behaviour.placements ?? [], settings: { threads: 1 } };
    },
    async close() {
      this.closed++;
    },
  };
}

/** Seeded parameters with PyTorch's shapes, uniform in ±1/√H like nn.Linear's default init of the recurrence. */
export function fakeParams(config: ModelConfig, seed = 1): SeedParams {
  return randomParams(config, seed, 1 / Math.sqrt(config.hiddenSize));
}

/**
 * A graph with the exported seed model's signature (x [batch, seq, I], optional h0; logits, hidden_states, h_n)
 * and no nodes: enough for the orchestrator, which reads only inputs and outputs; fake runners never execute it.
 */
export function signatureOnlyModel(config: ModelConfig, opts: { h0?: boolean; outputs?: string[] } = {}): Uint8Array {
  const { inputSize: I, hiddenSize: H, outputSize: O } = config;
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const dims: Record<string, (number | string)[]> = { logits: ['batch', O], hidden_states: ['batch', 'seq', H], h_n: ['batch', H] };
  const outputs = opts.outputs ?? ['logits', 'hidden_states', 'h_n'];
  const input = [vi('x', ['batch', 'seq', I]), ...(opts.h0 ? [vi('h0', ['batch', H])] : [])];
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'signature', input, output: outputs.map((n) => vi(n, dims[n]!)) } }).finish();
}

/**
 * A real runner whose outputs `perturb` corrupts: a planted fault on an actual backend (the runner keeps its
 * name, probe and placements, so the report shows it as that backend).
 */
export function corruptedRunner(inner: Runner, perturb: (outputs: Record<string, NamedTensor>) => void): Runner {
  return {
    name: inner.name,
    probe: () => inner.probe(),
    close: () => inner.close(),
    async run(job, signal) {
      const r = await inner.run(job, signal);
      perturb(r.outputs);
      return r;
    },
  };
}
