/**
 * PyTorch nn.LSTM, nn.RNN (tanh, relu) and nn.GRU imports with initial states, checked against PyTorch itself
 * (fixtures/pytorch-rnns, made by tools/fixtures/make_pytorch_rnns.py with python/gru_onnx_torch.py): the float64
 * reference on every output (logits, out, h_n, c_n) from given initial states, and each export form with --h0
 * --hidden-states --h-n, at seq 1, 10, 37, 200 and batch 0; seq 0 against the rule PyTorch cannot give (it refuses
 * seq 0); planted mapping bugs. The CLI and python/gru_onnx_torch.py: test/pytorch-rnns-cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { sourceForward, sourceStateSizes } from '@gru-onnx/model';
import { exportRecurrentChain, exportSourceModel, pytorchLstmChain, pytorchOnnxLayers, pytorchRnnChain, summarizeModel, type RecurrentChain } from '@gru-onnx/onnx';
import { createRunner, createSourceReferenceRunner, float32Data, loadBundle, verifyModel } from '@gru-onnx/verify';
import { summary } from './imports-helpers.ts';
import { ALL_IO, captureSets, load, maxAbs, MODELS, RNNS, TIGHT } from './pytorch-rnns-helpers.ts';

describe('the float64 reference of each cell against PyTorch: logits, out, h_n and c_n from given h0/c0', () => {
  it.each(MODELS)('%s (--head %s) within 1e-5 at seq 1, 10, 37, 200 and batch 0', (name, head) => {
    const m = load(name, head);
    expect(m.kind).toBe(`pytorch-${name.slice(0, name.indexOf('-'))}`);
    if (m.kind === 'pytorch-rnn') expect(m.nonlinearity).toBe(name.includes('relu') ? 'relu' : 'tanh');
    const sets = captureSets(`${RNNS}${name}.capture`);
    const expectedShapes = name.includes('nobias') ? [[3, 1], [3, 10], [3, 37]] : [[3, 1], [3, 10], [3, 37], [3, 200], [0, 10]];
    expect(sets.map((s) => s.inputs.x!.dims.slice(0, 2))).toEqual(expectedShapes);
    const { slots, lstmSlots } = sourceStateSizes(m);
    for (const s of sets) {
      const [batch, seq] = s.inputs.x!.dims as [number, number];
      expect(s.inputs.h0!.dims).toEqual([slots, batch, sourceStateSizes(m).hiddenSize]);
      const out = sourceForward(m, float32Data(s.inputs.x!, 'x'), batch, seq, { h0: float32Data(s.inputs.h0!, 'h0'), ...(lstmSlots ? { c0: float32Data(s.inputs.c0!, 'c0') } : {}) });
      const pairs: [string, Float64Array | undefined][] = [['logits', out.logits], ['hidden_states', out.hiddenStates], ['h_n', out.hN], ['c_n', out.cN]];
      expect(Object.keys(s.outputs).sort()).toEqual(pairs.filter(([, v]) => v).map(([k]) => k).sort());
      for (const [k, v] of pairs) if (v) expect(maxAbs(v, float32Data(s.outputs[k]!, k)), `${s.name} ${k}`).toBeLessThanOrEqual(TIGHT);
    }
  });

  it.each(MODELS.filter(([n]) => !n.includes('nobias')))('%s from the zero state (forward(x) alone) within 1e-5', (name, head) => {
    const m = load(name, head);
    for (const s of captureSets(`${RNNS}${name}.plain.capture`)) {
      const [batch, seq] = s.inputs.x!.dims as [number, number];
      expect(maxAbs(sourceForward(m, float32Data(s.inputs.x!, 'x'), batch, seq).logits, float32Data(s.outputs.logits!, 'logits')), s.name).toBeLessThanOrEqual(TIGHT);
    }
  });
});

const FORMS = ['fused', 'scan', 'auto'] as const;

describe.each(FORMS)('--form %s, exported with --h0 --hidden-states --h-n', (form) => {
  it.each(MODELS)('%s (--head %s): every output within 1e-5 of PyTorch at seq 1, 10, 37, 200 and batch 0, on ort-cpu, ort-wasm and in the reference', async (name, head) => {
    const source = load(name, head);
    const bytes = exportSourceModel(source, { form, ...ALL_IO });
    const sig = summarizeModel(bytes);
    const lstm = source.kind === 'pytorch-lstm';
    expect(sig.inputs.map((v) => v.name)).toEqual(lstm ? ['x', 'h0', 'c0'] : ['x', 'h0']);
    expect(sig.outputs.map((v) => v.name).sort()).toEqual((lstm ? ['c_n', 'h_n', 'hidden_states', 'logits'] : ['h_n', 'hidden_states', 'logits']).sort());
    const bundle = loadBundle(`${RNNS}${name}.capture`, bytes);
    const report = await verifyModel({ bundle, runners: [createSourceReferenceRunner(source), 'ort-cpu', 'ort-wasm'], createRunner: (b) => createRunner(b), override: { atol: TIGHT, rtol: 0 } });
    const n = bundle.cases.length;
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([['reference', 'pass', n], ['ort-cpu', 'pass', n], ['ort-wasm', 'pass', n]]);
    expect(report.backends[1]!.cases[0]!.outputs.map((o) => o.output).sort()).toEqual(sig.outputs.map((v) => v.name).sort());
  });

  it.each(MODELS.filter(([n]) => !n.includes('nobias')))('%s without --h0 (the zero state), logits only: within 1e-5 of PyTorch\'s forward(x)', async (name, head) => {
    const source = load(name, head);
    const report = await verifyModel({ bundle: loadBundle(`${RNNS}${name}.plain.capture`, exportSourceModel(source, { form })), runners: ['ort-cpu'], createRunner: (b) => createRunner(b), override: { atol: TIGHT, rtol: 0 } });
    expect(report.backends.map((b) => [b.status, b.cases.length]), summary(report)).toEqual([['pass', 2]]);
  });

  // PyTorch refuses seq 0, so the expected values come from the contract's rule, computed here from h0 and c0 alone:
  // h_n = h0, c_n = c0, no step; final-state reads h0's last layer, the other heads zeros.
  it.each(['lstm-bi3-bf', 'lstm-uni3-sf-mean', 'rnn-relu-bi2-bf', 'rnn-tanh-uni2-bf'])('%s at seq 0: h_n = h0, c_n = c0, empty hidden_states, logits by the head', async (name) => {
    const head = MODELS.find(([n]) => n === name)![1];
    const source = load(name, head);
    if (source.kind === 'seed' || source.kind === 'tfjs-layers') throw new Error(source.kind);
    const { slots, lstmSlots, hiddenSize: H, lastFeatures } = sourceStateSizes(source);
    const batch = 2;
    const state = (k: number) => Float32Array.from({ length: slots * batch * H! }, (_, i) => Math.sin(3 * i + k));
    const h0 = state(1);
    const c0 = state(2);
    const dirs = source.bidirectional ? 2 : 1;
    const logits = new Float32Array(batch * source.outputSize);
    for (let b = 0; b < batch; b++) {
      const features = new Float64Array(lastFeatures);
      if (source.head === 'final-state') for (let r = 0; r < dirs; r++) features.set(h0.subarray(((slots - dirs + r) * batch + b) * H!, ((slots - dirs + r) * batch + b + 1) * H!), r * H!);
      for (let o = 0; o < source.outputSize; o++) logits[b * source.outputSize + o] = features.reduce((s, v, i) => s + v * source.fc.weight[o * lastFeatures + i]!, source.fc.bias[o]!);
    }
    const dims = [slots, batch, H!];
    const report = await verifyModel({
      bundle: {
        model: exportSourceModel(source, { form, ...ALL_IO }),
        cases: [{
          name: 'seq0',
          inputs: { x: { dims: [batch, 0, source.inputSize], data: new Float32Array(0) }, h0: { dims, data: h0 }, ...(lstmSlots ? { c0: { dims, data: c0 } } : {}) },
          outputs: {
            logits: { dims: [batch, source.outputSize], data: logits },
            hidden_states: { dims: [batch, 0, lastFeatures], data: new Float32Array(0) },
            h_n: { dims, data: h0 },
            ...(lstmSlots ? { c_n: { dims, data: c0 } } : {}),
          },
        }],
      },
      runners: [createSourceReferenceRunner(source), 'ort-cpu'],
      createRunner: (b) => createRunner(b),
      override: { atol: 1e-6, rtol: 0 },
    });
    expect(report.backends.map((b) => [b.name, b.status]), summary(report)).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
  });
});

// The mapping mistakes the issue names, planted in the chain a correct mapping gives: each must fail against
// PyTorch's own outputs (the mappings themselves are tested by the passing cases above).
describe('planted mapping bugs fail against PyTorch', () => {
  const lstm = load('lstm-bi2-sf', 'last-step');
  const relu = load('rnn-relu-bi2-bf', 'last-step');
  if (lstm.kind !== 'pytorch-lstm' || relu.kind !== 'pytorch-rnn') throw new Error('fixture kinds');
  const withoutBhh = (c: RecurrentChain): RecurrentChain => ({
    ...c,
    layers: c.layers.map((l) => {
      const B = Float32Array.from(l.B);
      const GH = B.length / l.dirs / 2;
      for (let d = 0; d < l.dirs; d++) B.fill(0, (2 * d + 1) * GH, (2 * d + 2) * GH);
      return { ...l, B };
    }),
  });
  const planted: [string, string, RecurrentChain][] = [
    ['LSTM gates i and f swapped', 'lstm-bi2-sf', { ...pytorchLstmChain(lstm), layers: pytorchOnnxLayers(lstm, 'LSTM', [1, 3, 0, 2]) }],
    ['LSTM b_hh forgotten', 'lstm-bi2-sf', withoutBhh(pytorchLstmChain(lstm))],
    ['relu exported as tanh', 'rnn-relu-bi2-bf', { ...pytorchRnnChain(relu), layers: pytorchRnnChain(relu).layers.map((l) => ({ ...l, activations: { names: ['Tanh'], alpha: [], beta: [] } })) }],
    ['RNN b_hh forgotten', 'rnn-relu-bi2-bf', withoutBhh(pytorchRnnChain(relu))],
  ];
  it.each(planted)('%s: FAIL (exit 1) against the capture', async (_, name, chain) => {
    const report = await verifyModel({ bundle: loadBundle(`${RNNS}${name}.capture`, exportRecurrentChain(chain, ALL_IO)), runners: ['ort-cpu'], createRunner: (b) => createRunner(b) });
    expect(report.backends[0]!.status, summary(report)).toBe('fail');
    expect(report.summary.exitCode).toBe(1);
  });
});

