import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceForward, Rng, UserError } from '@gru-onnx/model';
import { exportSeedModel, saveModel } from './export-seed.ts';
import type { ExportForm, ExportOptions } from './export-seed.ts';
import { randomSeedParams } from './test-params.ts';
import { summarizeModel } from './reader.ts';
import { makeValueInfo } from './builder.ts';
import { onnx } from './proto.ts';

const params = randomSeedParams(11);
const I = 8;
const H = 16;
const O = 4;
const ATOL = 1e-5;

/** Max |a − e| after checking the shape; NaN anywhere counts as a failure. */
function expectClose(what: string, got: ort.Tensor, dims: number[], expected: Float64Array): void {
  expect(got.dims, `${what} dims`).toEqual(dims);
  const a = got.data as Float32Array;
  expect(a.length, `${what} length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - expected[i]!);
    if (!(d <= worst)) [worst, at] = [Number.isNaN(d) ? Infinity : d, i];
  }
  expect(worst, `${what}: worst |got − reference| at index ${at}: ${a[at]} vs ${expected[at]}`).toBeLessThanOrEqual(ATOL);
}

async function session(options: ExportOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(exportSeedModel(params, { hiddenStates: true, hN: true, ...options }), { intraOpNumThreads: 1 });
}

/** Runs every batch × seq on one session and compares logits, every hidden state and h_n with the reference. */
async function expectMatchesReference(s: ort.InferenceSession, withH0: boolean, shapes: [number, number][]): Promise<void> {
  const rng = new Rng(5);
  for (const [B, T] of shapes) {
    const x = rng.normals(B * T * I);
    const h0 = withH0 ? rng.normals(B * H) : undefined;
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [B, T, I]) };
    if (h0) feeds.h0 = new ort.Tensor('float32', h0, [B, H]);
    const out = await s.run(feeds);
    const ref = referenceForward(params, x, B, T, h0);
    expectClose(`logits B${B} T${T}`, out.logits!, [B, O], ref.logits);
    expectClose(`hidden_states B${B} T${T}`, out.hidden_states!, [B, T, H], ref.hiddenStates);
    expectClose(`h_n B${B} T${T}`, out.h_n!, [B, H], ref.hN);
  }
}

const SHAPES: [number, number][] = [1, 7].flatMap((B) => [1, 10, 37].map((T): [number, number] => [B, T]));

// auto's threshold is lowered to 4 so batch 1 runs the fused branch and batch 7 the scan branch.
const CASES: { form: ExportForm; opsets: number[]; extra?: ExportOptions }[] = [
  { form: 'fused', opsets: [7, 21] },
  { form: 'scan', opsets: [7, 9, 21] },
  { form: 'auto', opsets: [7, 21], extra: { autoBatchThreshold: 4 } },
];

describe.each(CASES)('$form form on onnxruntime-node CPU', ({ form, opsets, extra }) => {
  it.each(opsets.flatMap((opset) => [false, true].map((h0) => ({ opset, h0 }))))(
    'opset $opset, h0 $h0: matches the float64 reference for batch {1, 7} × seq {1, 10, 37}',
    async ({ opset, h0 }) => {
      const s = await session({ form, opset, h0, ...extra });
      await expectMatchesReference(s, h0, SHAPES);
      await s.release();
    },
  );

  // onnxruntime 1.29's GRU kernel aborts the whole process on an empty sequence or batch: no form may reach it.
  it.each([7, 17])('opset %i: seq 0 gives h_T = h0, logits = fc(h0) and an empty hidden_states; batch 0 gives empty outputs', async (opset) => {
    const s = await session({ form, opset, h0: true, ...extra });
    await expectMatchesReference(s, true, [[1, 0], [7, 0], [0, 0], [0, 3]]);
    await s.release();
  });
});

describe('auto form at every opset 7–21', () => {
  // Both branches (batch 1 fused, batch 7 scan, threshold 4), seq 0 included, on every opset: the branch
  // condition is written differently before opset 9 (float compare) and the scan differently before 9 (Loop).
  it.each(Array.from({ length: 15 }, (_, i) => 7 + i))('opset %i: matches the reference at seq {0, 1, 10}, with h0', async (opset) => {
    const s = await session({ form: 'auto', opset, h0: true, autoBatchThreshold: 4 });
    await expectMatchesReference(s, true, [[1, 0], [1, 1], [1, 10], [7, 0], [7, 1], [7, 10], [0, 1]]);
    await s.release();
  });

  // The outputs cannot tell the branches apart (both are exact), so read the condition itself: the If's input,
  // exposed as an extra graph output, against the predicate written out here. Opsets 7, 9 and 11 use the sign
  // test (float before 9), 12+ the lookup table.
  it.each([7, 9, 11, 12, 17, 21])('opset %i: the If picks the fused node exactly when 1 ≤ batch < threshold and seq ≥ 1', async (opset) => {
    const T = 4;
    const model = onnx.ModelProto.decode(exportSeedModel(params, { opset, autoBatchThreshold: T }));
    const cond = model.graph!.node!.find((n) => n.opType === 'If')!.input![0]!;
    model.graph!.output!.push(makeValueInfo(cond, 'bool', undefined));
    const s = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
    for (const b of [0, 1, 3, 4, 5, 100]) {
      for (const seq of [0, 1, 2]) {
        const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(b * seq * I), [b, seq, I]) });
        expect(Boolean(out[cond]!.data[0]), `batch ${b} seq ${seq}`).toBe(b >= 1 && b < T && seq >= 1);
      }
    }
    await s.release();
  });

  it('the default threshold and target cpu: batch 0, 1 and 1024 at seq 0 and 3', async () => {
    const s = await session({ form: 'auto', h0: false });
    await expectMatchesReference(s, false, [[0, 0], [0, 3], [1, 0], [1, 3], [1024, 0], [1024, 3]]);
    await s.release();
  });
});

describe('exportSeedModel', () => {
  it('is byte-identical on re-export, and differs when the weights do', () => {
    for (const form of ['fused', 'scan', 'auto'] as const) {
      const a = exportSeedModel(params, { form, metadata: { sha256: 'abc' } });
      const b = exportSeedModel(randomSeedParams(11), { form, metadata: { sha256: 'abc' } });
      expect(Buffer.from(a).equals(Buffer.from(b)), form).toBe(true);
      expect(Buffer.from(exportSeedModel(randomSeedParams(12), { form })).equals(Buffer.from(a)), form).toBe(false);
    }
  });

  it('defaults to auto at opset 17 with symbolic batch and seq, weights as initializers, and metadata', () => {
    const s = summarizeModel(exportSeedModel(params, { metadata: { 'gru_onnx.checkpoint_sha256': 'f00d' } }));
    expect(s.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(s.irVersion).toBe(8);
    expect(s.producerName).toBe('gru-onnx');
    expect(s.inputs).toEqual([{ name: 'x', elemType: 'FLOAT', dims: ['batch', 'seq', I] }]);
    expect(s.outputs).toEqual([{ name: 'logits', elemType: 'FLOAT', dims: ['batch', O] }]);
    expect(s.metadata).toEqual({ 'gru_onnx.checkpoint_sha256': 'f00d', 'gru_onnx.form': 'auto', 'gru_onnx.target': 'cpu' });
    // One If picks the GRU node or the step Loop, which needs no empty-x guard of its own.
    expect(s.nodeCounts.If).toBe(1);
    expect(s.nodeCounts.GRU).toBe(1);
    expect(s.nodeCounts.Loop).toBe(1);
    expect(s.docString).toMatch(/h' = \(1 − z\)/);
  });

  it('auto for target cuda is the scan form with no GRU node (the CUDA EP runs linear_before_reset = 0 GRU on the CPU)', () => {
    const cuda = summarizeModel(exportSeedModel(params, { target: 'cuda' }));
    expect(cuda.nodeCounts.GRU).toBeUndefined();
    expect(cuda.nodeCounts.Scan).toBe(1);
    expect(cuda.metadata['gru_onnx.target']).toBe('cuda');
    expect(cuda.metadata['gru_onnx.form']).toBe('scan');
    expect(summarizeModel(exportSeedModel(params, { target: 'cpu' })).nodeCounts.GRU).toBe(1);
    expect(() => exportSeedModel(params, { target: 'tpu' as ExportOptions['target'] })).toThrow(/target 'tpu'/);
  });

  it('negates the z rows of W, R and Wb in the fused node (the seed z is ONNX 1 − z)', () => {
    const s = summarizeModel(exportSeedModel(params, { form: 'fused' }));
    expect(s.initializers.find((t) => t.name === 'gru_W')?.dims).toEqual([1, 3 * H, I]);
    expect(s.initializers.find((t) => t.name === 'gru_B')?.dims).toEqual([1, 6 * H]);
  });

  it('rejects opsets outside 7–21, unknown forms and wrong parameter shapes with one-line UserErrors', () => {
    expect(() => exportSeedModel(params, { opset: 6 })).toThrow(/opset 6 is outside 7–21/);
    expect(() => exportSeedModel(params, { opset: 22 })).toThrow(UserError);
    expect(() => exportSeedModel(params, { form: 'unrolled' as ExportForm })).toThrow(/form 'unrolled'/);
    const bad = { ...params, 'gru.W_hh.weight': { shape: [H, H + 1], data: new Float32Array(H * (H + 1)) } };
    expect(() => exportSeedModel(bad)).toThrow(/parameter gru.W_hh.weight has shape \[16, 17\], expected \[16, 16\]/);
    for (const t of [-1, 2.5, 4097]) expect(() => exportSeedModel(params, { autoBatchThreshold: t })).toThrow(new RegExp(`autoBatchThreshold ${t} is not an integer 0–4096`));
  });

  it('saveModel writes the bytes atomically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-'));
    try {
      const bytes = exportSeedModel(params, { form: 'fused' });
      saveModel(join(dir, 'm.onnx'), bytes);
      expect(Buffer.from(readFileSync(join(dir, 'm.onnx'))).equals(Buffer.from(bytes))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
