/**
 * An onnxruntime worker that writes a lot of log while the parent is too busy to read it. Raw synchronous writes to
 * a full non-blocking pipe fail with EAGAIN, and the run with them (seen once in CI under load, `EAGAIN … write`).
 * The worker's output goes to a file now, which never fills. GRU_ONNX_TEST_FAULT=ort-wasm:flood plants the writes
 * (4 MiB; a pipe holds 64 KiB).
 */
import { describe, expect, it } from 'vitest';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@gru-onnx/onnx';
import { float32Data } from '../tensor.ts';
import { createOrtWasmRunner } from './ort-wasm.ts';

/** y = x + 1 + 1 + … (N Adds): every node adds lines to the verbose log while the session is built. */
function chain(n: number): Uint8Array {
  const nodes = Array.from({ length: n }, (_, i) => makeNode('Add', [i === 0 ? 'x' : `v${i}`, 'one'], [i === n - 1 ? 'y' : `v${i + 1}`], {}, { name: `add_${i}` }));
  const g = makeGraph({ name: 'chain', nodes, inputs: [makeValueInfo('x', 'float32', [1])], outputs: [makeValueInfo('y', 'float32', [1])], initializers: [makeTensor('one', 'float32', [1], [1])] });
  return encodeModel(makeModel(g, { opset: 13 }));
}

describe('a worker flooding its log while the parent is busy', () => {
  it('is not a failure: ort-wasm answers, with its placements, after the parent blocked for 3 s mid-run', async () => {
    const runner = createOrtWasmRunner({ timeoutMs: 30_000 });
    try {
      const n = 300;
      const job = { model: chain(n), feeds: { x: { dims: [1], data: Float32Array.of(0) } }, outputNames: ['y'] };
      await runner.run(job); // starts the worker
      process.env.GRU_ONNX_TEST_FAULT = 'ort-wasm:flood';
      const pending = runner.run(job);
      await new Promise((resolve) => setTimeout(resolve, 30)); // the job is sent
      // Nobody reads the child's output for 3 s, while it writes megabytes.
      const t0 = Date.now();
      while (Date.now() - t0 < 3000);
      const r = await pending;
      expect(Array.from(float32Data(r.outputs.y!))).toEqual([n]);
      expect(r.placements.length).toBeGreaterThan(0);
    } finally {
      delete process.env.GRU_ONNX_TEST_FAULT;
      await runner.close();
    }
  }, 120_000);
});
