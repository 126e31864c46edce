/**
 * Numerical hazards (issue 7, item 6), end to end through the CLI: NaN/Inf in weights (every source kind) or in
 * inputs a user supplies (a bundle's input_K.pb) is refused up front, exit 2, naming the tensor and the position;
 * and reference values near zero do not turn float32 rounding into a false failure, because the rule is
 * |a − e| ≤ atol + rtol·|e| (atol decides near zero) and the reported relative error divides by max(|e|, floor).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeCheckpoint, encodeSafetensors, initParams, referenceForward, Rng, type SeedParams } from '@gru-onnx/model';
import { exportSeedModel, onnx } from '@gru-onnx/onnx';
import { REL_FLOOR } from '@gru-onnx/verify';
import { main, type Io } from '@gru-onnx/cli';
import { ROOT } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-numerics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CONFIG = { inputSize: 3, hiddenSize: 4, outputSize: 2 };

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { out: (s) => void (stdout += s), err: (s) => void (stderr += s), stderrIsTTY: false, stderrStream: process.stderr };
  const code = await main(argv, { io });
  return { code, stdout, stderr };
}

function expectRefused(r: { code: number; stderr: string }, location: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr).toMatch(location);
}

describe('NaN/Inf in weights is reported up front with its location', () => {
  it('seed checkpoint: export and verify name the tensor and the flat index', async () => {
    const params = initParams(CONFIG, new Rng(1));
    params['gru.W_hz.weight'].data[5] = Number.NaN;
    const bytes = encodeSafetensors(Object.entries(params).map(([n, t]) => [n, t] as [string, { shape: number[]; data: Float32Array }]));
    const file = join(dir, 'nan.safetensors');
    writeFileSync(file, bytes);
    expectRefused(await cli(['export', '--weights', file, '--out', join(dir, 'o.onnx')]), /tensor 'gru\.W_hz\.weight': value NaN at flat index 5 is not finite/);
    const model = join(dir, 'ok.onnx');
    writeFileSync(model, exportSeedModel(initParams(CONFIG, new Rng(1))));
    expectRefused(await cli(['verify', '--model', model, '--weights', file, '--backends', 'reference']), /gru\.W_hz\.weight.*NaN.*5/);
  });

  it('PyTorch nn.GRU state_dict', async () => {
    const f = decodeSafetensors(readFileSync(join(ROOT, 'fixtures/pytorch/l1-uni-bf.safetensors')));
    const t = f.tensors.get('gru.weight_hh_l0')!;
    t.data[7] = Number.POSITIVE_INFINITY;
    const file = join(dir, 'inf-gru.safetensors');
    writeFileSync(file, encodeSafetensors(f.tensors, f.metadata));
    expectRefused(await cli(['export', '--weights', file, '--out', join(dir, 'o.onnx')]), /tensor 'gru\.weight_hh_l0': value Infinity at flat index 7/);
  });

  it('tfjs-layers weights.bin', async () => {
    const seed = join(ROOT, 'tools/fuzz/seeds/tfjs-gru');
    const d = join(dir, 'tfjs-nan');
    mkdirSync(d);
    writeFileSync(join(d, 'model.json'), readFileSync(join(seed, 'model.json')));
    const w = new Uint8Array(readFileSync(join(seed, 'weights.bin')));
    new DataView(w.buffer).setFloat32(4 * 2, Number.NaN, true);
    writeFileSync(join(d, 'weights.bin'), w);
    expectRefused(await cli(['export', '--weights', d, '--out', join(dir, 'o.onnx')]), /weight '[^']+': value NaN at flat index 2 is not finite/);
  });
});

describe('NaN/Inf in inputs the float64 reference would read is reported up front with its location', () => {
  it("a bundle's input_0.pb holding -Inf: exit 2 naming the set, the input and the multi-index, before any backend", async () => {
    const params = initParams(CONFIG, new Rng(2));
    const ckpt = join(dir, 'b.safetensors');
    const model = join(dir, 'b.onnx');
    const bundle = join(dir, 'bundle');
    writeFileSync(ckpt, encodeCheckpoint({ config: CONFIG, params, metadata: {} }));
    writeFileSync(model, exportSeedModel(params));
    expect((await cli(['verify', '--model', model, '--weights', ckpt, '--backends', 'reference', '--shapes', '2x4', '--save-bundle', bundle])).code).toBe(0);
    const input = join(bundle, 'test_data_set_0', 'input_0.pb');
    const t = onnx.TensorProto.decode(readFileSync(input));
    const raw = new Uint8Array(t.rawData);
    // x [2, 4, 3]: flat index 1·12 + 2·3 + 1 = 19 is [1, 2, 1].
    new DataView(raw.buffer).setFloat32(4 * 19, Number.NEGATIVE_INFINITY, true);
    t.rawData = raw;
    writeFileSync(input, onnx.TensorProto.encode(t).finish());
    // With the weights, the float64 reference would be fed -Inf: refused up front.
    expectRefused(await cli(['verify', '--bundle', bundle, '--weights', ckpt, '--backends', 'ort-cpu']), /test_data_set_0.*input x: -Infinity at \[1, 2, 1\]/);
    // Without them the bundle's stored outputs say what the model does with -Inf (ONNX's own IsInf/IsNaN tests are
    // such bundles): it runs, and the stored outputs (finite, from the unmodified input) no longer match.
    const r = await cli(['verify', '--bundle', bundle, '--backends', 'ort-cpu']);
    expect(r.code).toBe(1);
  });
});

describe('near-zero reference values', () => {
  it('logits that cancel to about 1e-8 pass on ort-cpu: float32 rounding is inside atol, not a 100 % relative error', { timeout: 60_000 }, async () => {
    // fc.bias cancels fc.weight · h_T for the all-zeros input, so the float64 reference logits are float32
    // rounding residue (~1e-8) while float32 backends get a different residue: relative error of order 1.
    const params: SeedParams = initParams(CONFIG, new Rng(3));
    const seq = 64;
    const zeros = new Float64Array(3 * seq * CONFIG.inputSize);
    const hT = referenceForward(params, zeros, 3, seq).hN;
    const W = params['fc.weight'].data;
    for (let o = 0; o < CONFIG.outputSize; o++) {
      let s = 0;
      for (let j = 0; j < CONFIG.hiddenSize; j++) s += W[o * CONFIG.hiddenSize + j]! * hT[j]!;
      params['fc.bias'].data[o] = -s;
    }
    const expected = referenceForward(params, zeros, 3, seq).logits;
    const near = Math.max(...Array.from(expected, Math.abs));
    expect(near).toBeLessThan(1e-6);
    expect(near).toBeGreaterThan(0);

    const ckpt = join(dir, 'cancel.safetensors');
    const model = join(dir, 'cancel.onnx');
    writeFileSync(ckpt, encodeCheckpoint({ config: CONFIG, params, metadata: {} }));
    writeFileSync(model, exportSeedModel(params, { form: 'fused' }));
    const r = await cli(['verify', '--model', model, '--weights', ckpt, '--backends', 'ort-cpu', '--shapes', '1x3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      comparison: { rule: string; relativeError: string; relFloor: number };
      backends: { name: string; status: string; cases: { id: string; outputs: { maxAbs: number; maxRel: number }[] }[] }[];
    };
    const zerosCase = report.backends[0]!.cases.find((c) => c.id.startsWith('zeros'))!;
    const { maxAbs, maxRel } = zerosCase.outputs[0]!;
    // A ratio rule |a − e| / |e| ≤ rtol would fail here: the error is of the order of the values themselves
    // (measured: |e| ≤ 5.4e-9, |a − e| = 2.7e-8).
    expect(maxAbs / near).toBeGreaterThan(0.1);
    expect(maxAbs).toBeLessThan(1e-5);
    expect(maxRel).toBeLessThanOrEqual(maxAbs / REL_FLOOR + 1e-12);
    // The report says how near-zero values are handled.
    expect(report.comparison.rule).toMatch(/atol \+ rtol·\|expected\|/);
    expect(report.comparison.relativeError).toMatch(/max\(\|expected\|, 0\.001\)/);
  });
});
