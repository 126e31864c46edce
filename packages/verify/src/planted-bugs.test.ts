import { describe, expect, it } from 'vitest';
import { onnx, exportSeedModel } from '@gru-onnx/onnx';
import { configFromParams, SEED_CONFIG } from '@gru-onnx/model';
import type { ParamName, SeedParams } from '@gru-onnx/model';
import { fakeParams } from './fake-runner.ts';
import { ortTestRunner } from './ort-test-runner.ts';
import type { Report } from './report.ts';
import { defaultTolerances } from './tolerances.ts';
import { verifyModel } from './verify.ts';

/**
 * Issue 4, item 9: export mistakes that verification must catch. Each is a fused-GRU graph built here by hand
 * with one mistake, run on onnxruntime-node CPU through verifyModel; the correct exporter's output must pass.
 */
type Mistake =
  | 'none'
  | 'z not negated'
  | 'gates swapped'
  | 'linear_before_reset flipped'
  | 'a bias dropped'
  | 'R transposed'
  | 'one weight off by 1e-3'
  | 'sequence fixed to the training length'
  | 'head weights transposed';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const TRAINING_SEQ = 10;

function init(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}
const ints = (name: string, v: number[]): onnx.ITensorProto => ({ name, dims: [v.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: v });
const vi = (name: string, dims: (number | string)[]): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});
const transposeBlock = (a: Float32Array, n: number) => {
  const t = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j]!;
  return t;
};

/** The seed model as one ONNX GRU node (the mapping in docs/architecture.md), with `mistake` planted. */
function buggyModel(p: SeedParams, mistake: Mistake): Uint8Array {
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(p);
  const d = (n: ParamName) => p[n].data;
  const zSign = mistake === 'z not negated' ? 1 : -1;
  const scale = (a: Float32Array, s: number) => a.map((v) => s * v);
  const recurrent = (n: ParamName) => (mistake === 'R transposed' ? transposeBlock(d(n), H) : d(n));
  let [wz, wr]: Float32Array[] = [scale(d('gru.W_xz.weight'), zSign), d('gru.W_xr.weight')];
  let [rz, rr]: Float32Array[] = [scale(recurrent('gru.W_hz.weight'), zSign), recurrent('gru.W_hr.weight')];
  let [bz, br]: Float32Array[] = [scale(d('gru.W_xz.bias'), zSign), d('gru.W_xr.bias')];
  if (mistake === 'gates swapped') [wz, wr, rz, rr, bz, br] = [wr, wz, rr, rz, br, bz];
  const W = new Float32Array(3 * H * I);
  W.set(wz!, 0);
  W.set(wr!, H * I);
  W.set(d('gru.W_xh.weight'), 2 * H * I);
  if (mistake === 'one weight off by 1e-3') W[2 * H * I + 5] += 1e-3;
  const R = new Float32Array(3 * H * H);
  R.set(rz!, 0);
  R.set(rr!, H * H);
  R.set(recurrent('gru.W_hh.weight'), 2 * H * H);
  const B = new Float32Array(6 * H);
  B.set(bz!, 0);
  B.set(br!, H);
  if (mistake !== 'a bias dropped') B.set(d('gru.W_xh.bias'), 2 * H);
  const fcT = new Float32Array(H * O);
  // The transposed-head bug reads fc.weight [O, H] as if it were already [H, O].
  if (mistake === 'head weights transposed') fcT.set(d('fc.weight'));
  else for (let o = 0; o < O; o++) for (let j = 0; j < H; j++) fcT[j * O + o] = d('fc.weight')[o * H + j]!;
  const xIn = mistake === 'sequence fixed to the training length' ? 'x_fixed' : 'x';
  const nodes: onnx.INodeProto[] = [
    ...(xIn === 'x_fixed' ? [{ name: 'fixed_seq', opType: 'Slice', input: ['x', 'starts', 'ends', 'axes'], output: ['x_fixed'] }] : []),
    { name: 'to_time_major', opType: 'Transpose', input: [xIn], output: ['x_tbi'], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] }] },
    {
      name: 'gru',
      opType: 'GRU',
      input: ['x_tbi', 'W', 'R', 'B'],
      output: ['y', 'h_n_3d'],
      attribute: [
        { name: 'hidden_size', type: onnx.AttributeProto.AttributeType.INT, i: H },
        { name: 'linear_before_reset', type: onnx.AttributeProto.AttributeType.INT, i: mistake === 'linear_before_reset flipped' ? 1 : 0 },
      ],
    },
    { name: 'squeeze_y', opType: 'Squeeze', input: ['y', 'axis1'], output: ['y_tbh'] },
    { name: 'to_batch_major', opType: 'Transpose', input: ['y_tbh'], output: ['hidden_states'], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] }] },
    { name: 'squeeze_h', opType: 'Squeeze', input: ['h_n_3d', 'axis0'], output: ['h_n'] },
    { name: 'head', opType: 'Gemm', input: ['h_n', 'fcT', 'fcb'], output: ['logits'] },
  ];
  const graph: onnx.IGraphProto = {
    name: `seed_gru_${mistake.replace(/\W+/g, '_')}`,
    node: nodes,
    initializer: [
      init('W', [1, 3 * H, I], W),
      init('R', [1, 3 * H, H], R),
      init('B', [1, 6 * H], B),
      init('fcT', [H, O], fcT),
      init('fcb', [O], d('fc.bias')),
      ints('axis1', [1]),
      ints('axis0', [0]),
      ...(xIn === 'x_fixed' ? [ints('starts', [0]), ints('ends', [TRAINING_SEQ]), ints('axes', [1])] : []),
    ],
    input: [vi('x', ['batch', 'seq', I])],
    output: [vi('logits', ['batch', O]), vi('hidden_states', ['batch', 'seq', H]), vi('h_n', ['batch', H])],
  };
  return onnx.ModelProto.encode({ irVersion: 8, producerName: 'planted-bugs', opsetImport: [{ domain: '', version: 17 }], graph }).finish();
}

const params = fakeParams(SEED_CONFIG, 21);
// The training length is in the sweep (the bug passes there) and so are longer ones (it must fail there).
const shapes = [{ batch: 1, seq: 1 }, { batch: 3, seq: TRAINING_SEQ }, { batch: 2, seq: 37 }];

const verify = (model: Uint8Array, loosest = false): Promise<Report> =>
  verifyModel({ model, params, shapes, seed: 3, runners: [ortTestRunner('ort-cpu')], ...(loosest ? { override: LOOSEST } : {}) });

/**
 * The loosest default in tolerances.json (today browser-webgpu and ort-cuda, 1e-4): every planted bug must fail
 * there too, so no backend's tolerance can be raised far enough to pass a wrong export.
 */
const LOOSEST = Object.values(defaultTolerances()).reduce((l, t) => ({ atol: Math.max(l.atol, t.atol), rtol: Math.max(l.rtol, t.rtol) }), { atol: 0, rtol: 0 });

const MISTAKES: Mistake[] = [
  'z not negated',
  'gates swapped',
  'linear_before_reset flipped',
  'a bias dropped',
  'R transposed',
  'one weight off by 1e-3',
  'sequence fixed to the training length',
  'head weights transposed',
];

describe('planted export bugs', () => {
  it('the hand-built graph without a mistake passes (so each failure below is the mistake)', async () => {
    const r = await verify(buggyModel(params, 'none'));
    expect(r.backends[0]!.reason).toBeUndefined();
    expect(r.summary.exitCode).toBe(0);
  });

  it.each(MISTAKES)('%s: fails with exit code 1', async (mistake) => {
    const r = await verify(buggyModel(params, mistake));
    const b = r.backends[0]!;
    expect(b.status, b.reason).toBe('fail');
    expect(r.summary.exitCode).toBe(1);
    const loose = await verify(buggyModel(params, mistake), true);
    expect(loose.summary.exitCode, `${mistake} passes at the loosest default tolerance, atol ${LOOSEST.atol}, rtol ${LOOSEST.rtol} (max abs ${loose.backends[0]!.maxAbs})`).toBe(1);
    if (mistake === 'sequence fixed to the training length') {
      // Exact at the training length; wrong past it.
      expect(b.cases.find((c) => c.id === `3x${TRAINING_SEQ}`)!.status).toBe('pass');
      expect(b.cases.find((c) => c.id === '2x37')!.status).toBe('fail');
    }
    if (mistake === 'head weights transposed') {
      expect(b.cases[1]!.outputs.find((o) => o.output === 'hidden_states')!.status).toBe('pass');
      expect(b.cases[1]!.outputs.find((o) => o.output === 'logits')!.status).toBe('fail');
    } else if (mistake !== 'sequence fixed to the training length') {
      // A recurrence bug shows in hidden_states; the first divergence names where.
      expect(b.cases[1]!.steps?.firstDivergence).toBeDefined();
    }
  });

  it.each(['fused', 'scan', 'auto'] as const)('the exporter’s %s form passes on ort-cpu and the reference', async (form) => {
    const model = exportSeedModel(params, { form, hiddenStates: true, hN: true });
    const r = await verifyModel({ model, params, shapes, seed: 3, runners: [ortTestRunner('ort-cpu'), 'reference'] });
    expect(r.backends.map((b) => [b.name, b.status, b.reason])).toEqual([
      ['ort-cpu', 'pass', undefined],
      ['reference', 'pass', undefined],
    ]);
    expect(r.summary.exitCode).toBe(0);
  });
});

describe('through the real runners (registry)', () => {
  it('the exported model passes on ort-cpu and ort-wasm; a planted bug fails on both', async () => {
    const good = await verifyModel({ model: exportSeedModel(params, { form: 'fused', hiddenStates: true, hN: true }), params, shapes, seed: 3, runners: ['ort-cpu', 'ort-wasm'], require: ['ort-cpu'] });
    expect(good.backends.map((b) => [b.name, b.status, b.reason])).toEqual([
      ['ort-cpu', 'pass', undefined],
      ['ort-wasm', 'pass', undefined],
    ]);
    expect(good.backends[0]!.versions['onnxruntime-node']).toBe('1.29.0');
    const bad = await verifyModel({ model: buggyModel(params, 'R transposed'), params, shapes, seed: 3, runners: ['ort-cpu', 'ort-wasm'] });
    expect(bad.backends.map((b) => b.status)).toEqual(['fail', 'fail']);
    expect(bad.summary.exitCode).toBe(1);
  });
});
