import * as ort from 'onnxruntime-node';
import type { BackendName, Job, NamedTensor, Probe, Runner, RunResult } from './runner.ts';

/**
 * The least runner that executes a graph: onnxruntime-node's CPU EP, one thread, no placement reading. For the
 * orchestrator's own tests (planted export bugs, foreign bundles), so they do not depend on the real runners;
 * `name` is what the report calls it.
 */
export function ortTestRunner(name: BackendName = 'ort-cpu'): Runner {
  const sessions = new Map<Uint8Array, Promise<ort.InferenceSession>>();
  return {
    name,
    async probe(): Promise<Probe> {
      return { available: true, versions: { 'onnxruntime-node': ort.env.versions.node ?? 'unknown' }, settings: { intraOpNumThreads: 1 } };
    },
    async run(job: Job): Promise<RunResult> {
      let session = sessions.get(job.model);
      if (!session) {
        session = ort.InferenceSession.create(job.model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'], logSeverityLevel: 3 });
        sessions.set(job.model, session);
      }
      const s = await session;
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(job.feeds)) feeds[k] = new ort.Tensor('float32', t.data, t.dims);
      const res = await s.run(feeds, job.outputNames);
      const outputs: Record<string, NamedTensor> = {};
      for (const n of job.outputNames) {
        const t = res[n];
        if (t && t.data instanceof Float32Array) outputs[n] = { dims: [...t.dims], data: t.data };
      }
      return { outputs, placements: [], settings: { intraOpNumThreads: 1 } };
    },
    async close() {
      // A session that failed to create has nothing to release; its error was already reported by run().
      await Promise.allSettled([...sessions.values()].map(async (s) => (await s).release()));
      sessions.clear();
    },
  };
}
