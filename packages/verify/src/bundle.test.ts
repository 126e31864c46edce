import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx } from '@gru-onnx/onnx';
import { SEED_CONFIG, UserError } from '@gru-onnx/model';
import { loadBundle, readTensorFile, saveBundle } from './bundle.ts';
import { fakeParams, fakeRunner, signatureOnlyModel } from './fake-runner.ts';
import { generateCases, readSignature } from './inputs.ts';
import { ortTestRunner } from './ort-test-runner.ts';
import { referenceBundleCases, verifyModel } from './verify.ts';
import { float32Data } from './tensor.ts';

const root = mkdtempSync(join(tmpdir(), 'bundle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FOREIGN = new URL('../../../fixtures/bundles/onnx-gru', import.meta.url).pathname;

const params = fakeParams(SEED_CONFIG, 2);
const model = signatureOnlyModel(SEED_CONFIG, { h0: true });

function ourBundle(dir: string) {
  const sig = readSignature(model);
  const cases = generateCases(sig, { inputSize: 8, hiddenSize: 16 }, { shapes: [{ batch: 2, seq: 3 }], seed: 4 });
  const outputs = { logits: { dims: [2, 4], data: Float64Array.from({ length: 8 }, (_, i) => i / 7) }, hidden_states: { dims: [2, 3, 16], data: new Float32Array(96).fill(0.5) }, h_n: { dims: [2, 16], data: new Float32Array(32) } };
  saveBundle(dir, model, cases.map((c) => ({ inputs: c.feeds, outputs })));
  return { cases, outputs };
}

describe('bundles', () => {
  it('round-trips: saveBundle writes the ONNX layout and loadBundle reads the same values back', () => {
    const dir = join(root, 'rt');
    const { cases, outputs } = ourBundle(dir);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'test_data_set_0', 'test_data_set_1', 'test_data_set_2']);
    expect(readdirSync(join(dir, 'test_data_set_0')).sort()).toEqual(['input_0.pb', 'input_1.pb', 'output_0.pb', 'output_1.pb', 'output_2.pb']);
    expect(readTensorFile(join(dir, 'test_data_set_0', 'input_1.pb')).name).toBe('h0');
    const b = loadBundle(dir);
    expect(Array.from(b.model)).toEqual(Array.from(model));
    expect(b.cases.map((c) => c.name)).toEqual(['test_data_set_0', 'test_data_set_1', 'test_data_set_2']);
    expect(b.cases[1]!.inputs.x).toEqual({ ...cases[1]!.feeds.x, dtype: 'float32' });
    expect(b.cases[0]!.inputs.h0).toEqual({ ...cases[0]!.feeds.h0, dtype: 'float32' });
    expect(Array.from(float32Data(b.cases[0]!.outputs.logits!))).toEqual(Array.from(Float32Array.from(outputs.logits.data)));
    expect(readdirSync(root).filter((e) => e.startsWith('.'))).toEqual([]);
  });

  it('replaces an existing bundle whole, and refuses to replace a directory that is not one', () => {
    const dir = join(root, 'replace');
    ourBundle(dir);
    writeFileSync(join(root, 'keep.txt'), 'x');
    saveBundle(dir, model, []);
    expect(readdirSync(dir)).toEqual(['model.onnx']);
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    expect(() => saveBundle(other, model, [])).toThrow(/exists and is not a bundle \(it holds notes.txt\)/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('leaves nothing under the final name when a write fails', () => {
    const dir = join(root, 'failing');
    expect(() => saveBundle(dir, model, [{ inputs: {}, outputs: {} }])).toThrow(/no value for model input "x"/);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(root).filter((e) => e.includes('.tmp-'))).toEqual([]);
  });

  it('reads a bundle made by another tool: initializer inputs, unnamed files, float_data and raw_data', () => {
    const b = loadBundle(FOREIGN);
    expect(b.cases).toHaveLength(2);
    expect(Object.keys(b.cases[0]!.inputs)).toEqual(['X', 'W', 'R']);
    expect(b.cases[1]!.inputs.X!.dims).toEqual([7, 2, 3]);
    expect(b.cases[0]!.outputs.Y_h!.dims).toEqual([1, 1, 5]);
  });

  it('verifies a foreign bundle against its stored outputs on onnxruntime-node, and fails a corrupted expectation', async () => {
    const b = loadBundle(FOREIGN);
    const r = await verifyModel({ bundle: b, runners: [ortTestRunner('ort-cpu'), fakeRunner('reference')] });
    expect(r.expected.source).toBe('bundle');
    expect(r.backends[0]).toMatchObject({ name: 'ort-cpu', status: 'pass' });
    expect(r.backends[0]!.maxAbs).toBeLessThan(1e-6);
    expect(r.backends[1]!.status).toBe('unavailable');
    expect(r.summary.exitCode).toBe(0);
    float32Data(b.cases[1]!.outputs.Y_h!)[3]! += 1e-3;
    const bad = await verifyModel({ bundle: b, runners: [ortTestRunner('ort-cpu')] });
    expect(bad.summary.exitCode).toBe(1);
    expect(bad.backends[0]!.reason).toMatch(/test_data_set_1: Y_h: 1\/10 elements outside tolerance; first at \[0, 0, 3\]/);
  });

  it('refuses corrupt files, other dtypes and missing pieces with a one-line UserError naming the file', () => {
    const dir = join(root, 'corrupt');
    cpSync(FOREIGN, dir, { recursive: true });
    const in0 = join(dir, 'test_data_set_0', 'input_0.pb');
    const good = readFileSync(in0);
    writeFileSync(in0, good.subarray(0, good.length - 6));
    expect(() => loadBundle(dir)).toThrow(new RegExp(`${in0}: (not a TensorProto|\\d+ float_data values)`));
    writeFileSync(in0, onnx.TensorProto.encode({ name: 'X', dims: [1], dataType: onnx.TensorProto.DataType.COMPLEX64, floatData: [1, 0] }).finish());
    expect(() => loadBundle(dir)).toThrow(`${in0}: dtype COMPLEX64 is not one onnxruntime's JavaScript API takes`);
    writeFileSync(in0, onnx.TensorProto.encode({ name: 'X', dims: [2, 2], dataType: 1, rawData: new Uint8Array(12) }).finish());
    expect(() => loadBundle(dir)).toThrow(/raw_data has 12 bytes, \[2, 2\] float32 needs 16/);
    writeFileSync(in0, onnx.TensorProto.encode({ name: 'X', dims: [1e6, 1e6], dataType: 1 }).finish());
    expect(() => loadBundle(dir)).toThrow(/over the \d+ limit/);
    writeFileSync(in0, good);
    rmSync(join(dir, 'test_data_set_1', 'input_1.pb'));
    expect(() => loadBundle(dir)).toThrow(/input_1.pb is missing \(found input_2.pb\)/);
    writeFileSync(join(dir, 'model.onnx'), Uint8Array.of(0x0a, 0xff));
    expect(() => loadBundle(dir)).toThrow(/model.onnx: not an ONNX model/);
    expect(() => loadBundle(join(root, 'nope'))).toThrow(UserError);
    for (const f of [() => loadBundle(dir)]) {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        expect((err as Error).message).not.toContain('\n');
      }
    }
  });

  it('verifies our own bundle with stored NaN inputs as bad input (exit 2 path), naming the case and location', async () => {
    const dir = join(root, 'nan');
    ourBundle(dir);
    const b = loadBundle(dir);
    b.cases[0]!.inputs.x!.data[5] = Number.NaN;
    await expect(verifyModel({ bundle: b, params, runners: [fakeRunner('reference')] })).rejects.toThrow('case test_data_set_0: input x: NaN at [0, 0, 5]');
  });
});

describe('--save-bundle', () => {
  it('saves the sweep with the reference outputs; verifying that bundle without weights passes for a correct runner', async () => {
    const m = signatureOnlyModel(SEED_CONFIG);
    const dir = join(root, 'saved');
    saveBundle(dir, m, referenceBundleCases(m, params, { shapes: [{ batch: 2, seq: 5 }], seed: 8 }));
    const b = loadBundle(dir);
    expect(b.cases).toHaveLength(3);
    // fakeRunner needs params to compute, but the expected values come from the bundle (none given to verifyModel).
    const runner = fakeRunner('ort-cpu');
    const r = await verifyModel({ bundle: b, runners: [{ ...runner, run: (job) => runner.run({ ...job, params }) }] });
    expect(r.expected.source).toBe('bundle');
    expect(r.cases.map((c) => c.id)).toEqual(['test_data_set_0', 'test_data_set_1', 'test_data_set_2']);
    expect(r.summary.exitCode).toBe(0);
  });
});

describe('a bundle without model.onnx (a PyTorch capture), checked against --model', () => {
  it('needs the model passed in, names the option otherwise, and matches differently named tensors by position, saying so', () => {
    const dir = join(root, 'capture');
    ourBundle(dir);
    rmSync(join(dir, 'model.onnx'));
    expect(() => loadBundle(dir)).toThrow(/capture: no model\.onnx in the bundle \(a PyTorch capture holds none\): pass the model to check with --model FILE\.onnx/);
    expect(loadBundle(dir, model).notes).toBeUndefined();
    // Rename input_0 (x) as PyTorch's exporter might call it.
    const path = join(dir, 'test_data_set_0', 'input_0.pb');
    const t = onnx.TensorProto.decode(readFileSync(path));
    t.name = 'input';
    writeFileSync(path, onnx.TensorProto.encode(t).finish());
    const b = loadBundle(dir, model);
    expect(b.notes).toEqual(["bundle inputs matched by position: 'input' as 'x' (the stored names are not the model's)"]);
    expect(b.cases[0]!.inputs.x!.dims).toEqual([2, 3, 8]);
  });
});
