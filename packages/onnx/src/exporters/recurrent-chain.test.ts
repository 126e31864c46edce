import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { UserError } from '@gru-onnx/model';
import { allNodes } from '../builder.ts';
import { checkModel } from '../checker.ts';
import type { onnx } from '../proto.ts';
import { autoForm, autoScanFromBatch, buildRecurrentChain, exportRecurrentChain } from './recurrent-chain.ts';
import type { ChainExportOptions, RecurrentChain } from './recurrent-chain.ts';
import { CELL_SPECS, randomChain, randomFeeds, slotCounts, type CellSpec, type Feeds } from './test-chains.ts';

const tensors = (f: Feeds) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));

async function runAll(bytes: Uint8Array, feedList: Feeds[]): Promise<Record<string, ort.Tensor>[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: Record<string, ort.Tensor>[] = [];
    for (const f of feedList) out.push(await s.run(tensors(f)));
    return out;
  } finally {
    await s.release();
  }
}

const maxAbsDiff = (a: ort.Tensor, b: ort.Tensor) => {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};

/** The largest |a − b| / (ATOL + RTOL·|b|): at most 1 where every element passes. */
const worst = (a: ort.Tensor, b: ort.Tensor) => {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!) / (ATOL + RTOL * Math.abs(y[i]!)));
  return m;
};

const ALL_IO: ChainExportOptions = { hiddenStates: true, hN: true, h0: true };
const SEQS = [1, 10, 37, 200];
const BATCHES = [1, 3];
/**
 * float32 scan against the fused kernel over up to 200 steps and 3 layers: the two orders of summation differ, and
 * the unbounded activations (Elu, Softplus, Affine) carry states of several units, hence a relative term. Each
 * activation alone agrees to about 1e-7 over 10 steps (the ThresholdedRelu test below).
 */
const ATOL = 2e-5;
const RTOL = 1e-5;

/** Layer stacks: one cell repeated 1, 2 and 3 times; and a mixed GRU → LSTM → RNN stack (c slots ≠ h slots). */
const STACKS: [string, CellSpec[]][] = [
  ...CELL_SPECS.flatMap((spec) => [1, 2, 3].map((n): [string, CellSpec[]] => [`${spec.label} ×${n}`, Array<CellSpec>(n).fill(spec)])),
  ['GRU lbr 1 → LSTM → RNN relu', [CELL_SPECS[1]!, CELL_SPECS[3]!, CELL_SPECS[6]!]],
  ['LSTM HardSigmoid → GRU lbr 0', [CELL_SPECS[4]!, CELL_SPECS[0]!]],
];

describe.each([1, 2] as const)('scan against onnxruntime\'s fused kernels (ONNX\'s equations, independent code), dirs %i', (dirs) => {
  it.each(STACKS.map(([label, specs], i) => ({ label, specs, i })))('$label: logits, hidden_states, h_n, c_n at seq 1, 10, 37, 200 and batch 1, 3, with h0/c0', async ({ specs, i }) => {
    const c = randomChain(1000 + i * 2 + dirs, specs, { dirs });
    const feeds = SEQS.flatMap((seq) => BATCHES.map((batch) => randomFeeds(c, batch, seq, seq * 10 + batch, true)));
    const fusedModel = buildRecurrentChain(c, { ...ALL_IO, form: 'fused' });
    const scanModel = buildRecurrentChain(c, { ...ALL_IO, form: 'scan' });
    // Each form is what it says: kernels in one, none in the other.
    const recurrentOps = (m: onnx.ModelProto) => allNodes(m.graph!).filter((n) => ['GRU', 'LSTM', 'RNN'].includes(n.opType!)).length;
    expect(recurrentOps(fusedModel)).toBe(specs.length);
    expect(recurrentOps(scanModel)).toBe(0);
    const [fused, scan] = await Promise.all([runAll(exportRecurrentChain(c, { ...ALL_IO, form: 'fused' }), feeds), runAll(exportRecurrentChain(c, { ...ALL_IO, form: 'scan' }), feeds)]);
    const names = ['logits', 'hidden_states', 'h_n', ...(specs.some((s) => s.cell === 'LSTM') ? ['c_n'] : [])];
    fused.forEach((f, j) => {
      const where = `seq ${feeds[j]!.x!.dims[1]}, batch ${feeds[j]!.x!.dims[0]}`;
      expect(Object.keys(scan[j]!).sort(), where).toEqual([...names].sort());
      for (const n of names) {
        expect(scan[j]![n]!.dims, `${n} at ${where}`).toEqual(f[n]!.dims);
        expect(worst(scan[j]![n]!, f[n]!), `${n} at ${where}`).toBeLessThanOrEqual(1);
      }
    });
    // Non-trivial: the states moved away from h0, and the outputs are not all one value.
    const hs = fused[fused.length - 1]!.hidden_states!.data as Float32Array;
    expect(Math.max(...hs) - Math.min(...hs)).toBeGreaterThan(0.1);
  });
});

const FORMS = ['fused', 'scan', 'auto'] as const;

/** The head on [batch, F] features, in float64: logits = h Wᵀ + b (transB). */
function headOf(c: RecurrentChain, h: ArrayLike<number>, batch: number): number[] {
  const F = c.head.weight.length / c.head.outputSize;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) for (let o = 0; o < c.head.outputSize; o++) {
    let v = c.head.bias[o]!;
    for (let f = 0; f < F; f++) v += c.head.weight[o * F + f]! * h[b * F + f]!;
    out.push(v);
  }
  return out;
}

describe.each(FORMS)('the empty-x rule (contract): form %s', (form) => {
  const stacks: [string, CellSpec[], 1 | 2][] = [
    ['GRU lbr 1 ×2, bi', [CELL_SPECS[1]!, CELL_SPECS[1]!], 2],
    ['LSTM ×2, uni', [CELL_SPECS[3]!, CELL_SPECS[3]!], 1],
    ['RNN relu → LSTM HardSigmoid, bi', [CELL_SPECS[6]!, CELL_SPECS[4]!], 2],
  ];
  const cases = stacks.flatMap(([label, specs, dirs]) =>
    (['final-state', 'last-step', 'mean'] as const).flatMap((reads) => [true, false].map((h0) => ({ label, specs, dirs, reads, h0 }))));
  it.each(cases)('$label, head $reads, h0 $h0: seq 0 gives h_n = h0, c_n = c0, empty hidden_states; batch 0 gives empty outputs', async ({ specs, dirs, reads, h0 }) => {
    const c = randomChain(77, specs, { dirs, reads });
    const { S, lstmS, H } = slotCounts(c);
    const F = dirs * H;
    const model = buildRecurrentChain(c, { form, hiddenStates: true, hN: true, h0 });
    expect(checkModel(model)).toEqual([]);
    const feedList = [[2, 0], [0, 5], [0, 0]].map(([batch, seq]) => randomFeeds(c, batch!, seq!, 5, h0));
    const outs = await runAll(exportRecurrentChain(c, { form, hiddenStates: true, hN: true, h0 }), feedList);
    outs.forEach((o, j) => {
      const [batch, seq] = feedList[j]!.x!.dims as [number, number];
      const where = `batch ${batch}, seq ${seq}`;
      expect(o.hidden_states!.dims, where).toEqual([batch, seq, F]);
      const h0Data = h0 ? feedList[j]!.h0!.data : new Float32Array(S * batch * H);
      expect(o.h_n!.dims, where).toEqual([S, batch, H]);
      expect([...(o.h_n!.data as Float32Array)], where).toEqual([...h0Data]);
      if (lstmS > 0) {
        expect(o.c_n!.dims, where).toEqual([lstmS, batch, H]);
        expect([...(o.c_n!.data as Float32Array)], where).toEqual([...(h0 ? feedList[j]!.c0!.data : new Float32Array(lstmS * batch * H))]);
      } else {
        expect(o.c_n, where).toBeUndefined();
      }
      // final-state reads h_n's last layer: h0's last dirs slots as [batch, dirs·H]; the other heads read zeros.
      const last = new Float64Array(batch * F);
      if (reads === 'final-state') {
        for (let b = 0; b < batch; b++) for (let d = 0; d < dirs; d++) for (let u = 0; u < H; u++) {
          last[b * F + d * H + u] = h0Data[((S - dirs + d) * batch + b) * H + u]!;
        }
      }
      expect(o.logits!.dims, where).toEqual([batch, 3]);
      const expected = headOf(c, last, batch);
      [...(o.logits!.data as Float32Array)].forEach((v, i) => expect(v, where).toBeCloseTo(expected[i]!, 5));
    });
  });
});

describe('options and refusals', () => {
  const c = randomChain(5, [CELL_SPECS[3]!, CELL_SPECS[0]!], { dirs: 2 });
  it('declares h0 and c0 [S, batch, H], and hidden_states, h_n, c_n, in that order, only when asked', () => {
    const io = (o: ChainExportOptions) => {
      const g = buildRecurrentChain(c, o).graph!;
      return [g.input!.map((v) => v.name), g.output!.map((v) => v.name)];
    };
    expect(io({})).toEqual([['x'], ['logits']]);
    expect(io(ALL_IO)).toEqual([['x', 'h0', 'c0'], ['logits', 'hidden_states', 'h_n', 'c_n']]);
    const g = buildRecurrentChain(c, ALL_IO).graph!;
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input!.map(dims)).toEqual([['batch', 'seq', 4], [4, 'batch', 5], [2, 'batch', 5]]);
    expect(g.output!.map(dims)).toEqual([['batch', 3], ['batch', 'seq', 10], [4, 'batch', 5], [2, 'batch', 5]]);
  });

  it.each(FORMS)('records the form built and the target (%s)', (form) => {
    const meta = (o: ChainExportOptions) => Object.fromEntries(buildRecurrentChain(c, o).metadataProps!.map((p) => [p.key, p.value]));
    expect(meta({ form })['gru_onnx.form']).toBe(form === 'auto' ? autoForm(c, 'cpu') : form);
    // LSTM stays fused on cpu, a small GRU switches on the batch: this chain's auto is both.
    expect(autoForm(c, 'cpu')).toBe('auto');
    expect(meta({ form, target: 'cuda' })['gru_onnx.form']).toBe(form === 'auto' ? 'auto' : form);
    expect(meta({ form, target: 'wasm' })['gru_onnx.target']).toBe('wasm');
    expect(meta({ form })['gru_onnx.target']).toBe('cpu');
  });

  it.each([
    [{ names: ['Gelu'], alpha: [], beta: [] }, /activation 'Gelu' is not one of ONNX's for recurrent ops \(Sigmoid, Tanh, Relu, Softsign, Softplus, HardSigmoid, LeakyRelu, Elu, ThresholdedRelu, Affine, ScaledTanh\)/],
    [{ names: ['Affine'], alpha: [2], beta: [] }, /activation Affine needs activation_beta, and none is left for it/],
    [{ names: ['Tanh', 'Tanh'], alpha: [], beta: [] }, /RNN takes 1 activations per direction, not 2/],
  ])('refuses activations it cannot write in every form, by name: %o', (activations, message) => {
    const bad = randomChain(5, [{ label: 'x', cell: 'RNN', activations }], { dirs: 1 });
    for (const form of FORMS) {
      expect(() => buildRecurrentChain(bad, { form })).toThrow(UserError);
      expect(() => buildRecurrentChain(bad, { form })).toThrow(message);
    }
  });

  it('refuses h0 and h_n when the layers differ in hidden size, saying so', () => {
    const mixed = randomChain(5, [CELL_SPECS[0]!, CELL_SPECS[0]!], { dirs: 1 });
    const l1 = { ...mixed.layers[1]!, hiddenSize: 2, W: new Float32Array(3 * 2 * 5), R: new Float32Array(3 * 2 * 2), B: new Float32Array(12) };
    const m = { ...mixed, layers: [mixed.layers[0]!, l1], head: { ...mixed.head, weight: new Float32Array(6) } };
    expect(() => buildRecurrentChain(m, { form: 'fused' })).not.toThrow();
    for (const o of [{ h0: true }, { hN: true }]) {
      expect(() => buildRecurrentChain(m, o)).toThrow(UserError);
      expect(() => buildRecurrentChain(m, o)).toThrow(/need every recurrent layer to have the same hidden size; this model's are 5, 2/);
    }
  });
});

describe.each([7, 8, 9, 13, 21])('opset %i', (opset) => {
  it('scan (a Loop before 9) and fused agree, bidirectional and mixed cells, every head', async () => {
    for (const reads of ['final-state', 'last-step', 'mean'] as const) {
      const c = randomChain(9, [CELL_SPECS[1]!, CELL_SPECS[4]!, CELL_SPECS[5]!], { dirs: 2, reads });
      const feeds = [randomFeeds(c, 3, 12, 1, true), randomFeeds(c, 1, 1, 2, true)];
      const models = FORMS.map((form) => buildRecurrentChain(c, { ...ALL_IO, form, opset }));
      models.forEach((m) => expect(checkModel(m)).toEqual([]));
      expect(allNodes(models[1]!.graph!).filter((n) => n.opType === (opset < 9 ? 'Loop' : 'Scan'))).toHaveLength(6);
      const [fused, scan, auto] = await Promise.all(FORMS.map((form) => runAll(exportRecurrentChain(c, { ...ALL_IO, form, opset }), feeds)));
      for (const other of [scan!, auto!]) {
        fused!.forEach((f, j) => {
          for (const n of ['logits', 'hidden_states', 'h_n', 'c_n']) expect(worst(other[j]![n]!, f[n]!), `${reads} ${n}`).toBeLessThanOrEqual(1);
        });
      }
    }
  });
});

describe.each(['cpu', 'wasm', 'webgpu', 'cuda'] as const)('auto for target %s follows its table, layer by layer', (target) => {
  it.each(CELL_SPECS.map((spec) => ({ label: spec.label, spec })))('$label: the fused node below the threshold batch, the scan from it (bit for bit)', async ({ spec }) => {
    const c = randomChain(31, [spec, spec], { dirs: 2, H: 16 });
    const T = autoScanFromBatch(c.layers[0]!, target);
    const model = buildRecurrentChain(c, { target, ...ALL_IO });
    expect(checkModel(model)).toEqual([]);
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    expect(meta['gru_onnx.form']).toBe(T === 0 ? 'scan' : T === Infinity ? 'fused' : 'auto');
    const batches = T === 0 || T === Infinity ? [1, 5] : [T - 1, T];
    const feeds = batches.map((b) => randomFeeds(c, b, 20, b, true));
    const [auto, fused, scan] = await Promise.all([{ target }, { form: 'fused' as const }, { form: 'scan' as const }].map((o) => runAll(exportRecurrentChain(c, { ...ALL_IO, ...o }), feeds)));
    const same = (a: Record<string, ort.Tensor>, b: Record<string, ort.Tensor>) => ['logits', 'hidden_states', 'h_n'].every((n) => maxAbsDiff(a[n]!, b[n]!) === 0);
    const count = (op: string) => allNodes(model.graph!).filter((n) => n.opType === op).length;
    expect([count(spec.cell), count('Scan')]).toEqual([T === 0 ? 0 : 2, T === Infinity ? 0 : 4]);
    batches.forEach((b, j) => expect(same(auto[j]!, b >= T ? scan[j]! : fused[j]!), `batch ${b}, threshold ${T}`).toBe(true));
    // The two forms mostly differ in the last bits, so the check above tells which one ran; where onnxruntime's
    // kernel and the scan's ops round alike (piecewise-linear activations), the op counts tell the forms apart.
    if (!['RNN relu', 'RNN LeakyRelu', 'RNN Affine'].includes(spec.label)) expect(same(fused[1]!, scan[1]!)).toBe(false);
  });

  if (target === 'webgpu') {
    it("takes the scan form for a GRU or LSTM whose activations the native WebGPU EP's kernels refuse (an LSTM's behind the If, from batch 1), the CPU row otherwise", () => {
      const webgpu = CELL_SPECS.map((s) => autoScanFromBatch(randomChain(1, [s], { dirs: 1 }).layers[0]!, 'webgpu'));
      const cpu = CELL_SPECS.map((s) => autoScanFromBatch(randomChain(1, [s], { dirs: 1 }).layers[0]!, 'cpu'));
      const refused = CELL_SPECS.map((s) => s.cell !== 'RNN' && s.activations !== undefined);
      expect(CELL_SPECS.filter((_, i) => refused[i]).map((s) => s.label)).toEqual(['GRU HardSigmoid', 'LSTM HardSigmoid', 'LSTM HardSigmoid Elu Softsign']);
      expect(webgpu).toEqual(cpu.map((t, i) => (refused[i] ? (CELL_SPECS[i]!.cell === 'LSTM' ? 1 : 0) : t)));
    });
  }

  if (target === 'cuda') {
    it('runs the fused node only where cuDNN takes it (documented kernel support): GRU lbr 1, LSTM and RNN tanh with default activations', () => {
      expect(CELL_SPECS.map((s) => [s.label, autoScanFromBatch(randomChain(1, [s], { dirs: 1 }).layers[0]!, 'cuda')])).toEqual([
        ['GRU lbr 0', 0], ['GRU lbr 1', Infinity], ['GRU HardSigmoid', 0], ['LSTM', Infinity], ['LSTM HardSigmoid', 0], ['RNN tanh', Infinity], ['RNN relu', 0],
        ['LSTM HardSigmoid Elu Softsign', 0], ['RNN LeakyRelu', 0], ['RNN Affine', 0], ['RNN Softplus', 0],
      ]);
    });
  }
});

describe('activations that amplify rounding over long sequences, against the fused kernel over 6 steps', () => {
  const cases: [string, CellSpec][] = [
    ['RNN ThresholdedRelu', { label: '', cell: 'RNN', activations: { names: ['ThresholdedRelu'], alpha: [0.1], beta: [] } }],
    ['GRU Sigmoid ThresholdedRelu', { label: '', cell: 'GRU', lbr: 1, activations: { names: ['Sigmoid', 'ThresholdedRelu'], alpha: [0.1], beta: [] } }],
    ['LSTM Sigmoid ThresholdedRelu Tanh', { label: '', cell: 'LSTM', activations: { names: ['Sigmoid', 'ThresholdedRelu', 'Tanh'], alpha: [0.1], beta: [] } }],
    ['GRU Softsign ScaledTanh', { label: '', cell: 'GRU', lbr: 0, activations: { names: ['Softsign', 'ScaledTanh'], alpha: [1.1], beta: [0.9] } }],
  ];
  it.each(cases)('%s', async (_, spec) => {
    const c = randomChain(1003, [spec, spec], { dirs: 2 });
    const feeds = [randomFeeds(c, 2, 6, 101, true)];
    const [fused, scan] = await Promise.all((['fused', 'scan'] as const).map((form) => runAll(exportRecurrentChain(c, { ...ALL_IO, form }), feeds)));
    for (const n of ['logits', 'hidden_states', 'h_n']) expect(worst(scan![0]![n]!, fused![0]![n]!), n).toBeLessThanOrEqual(1);
    const hs = fused![0]!.hidden_states!.data as Float32Array;
    expect(Math.max(...hs) - Math.min(...hs)).toBeGreaterThan(0.1);
  });
});
