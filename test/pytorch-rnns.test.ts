/**
 * PyTorch nn.LSTM, nn.RNN (tanh, relu) and nn.GRU imports with initial states, checked against PyTorch itself (fixtures/pytorch-rnns, made by
 * tools/fixtures/make_pytorch_rnns.py with python/gru_onnx_torch.py): the float64 reference on every output
 * (logits, out, h_n, c_n) from given initial states, and each export form with --h0 --hidden-states --h-n, at seq 1,
 * 10, 37, 200 and batch 0; seq 0 against the rule PyTorch cannot give (it refuses seq 0); and the CLI.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSourceModel, sourceForward, sourceStateSizes, type PytorchHead, type SourceModel } from '@gru-onnx/model';
import { exportRecurrentChain, exportSourceModel, pytorchLstmChain, pytorchOnnxLayers, pytorchRnnChain, summarizeModel, type RecurrentChain } from '@gru-onnx/onnx';
import { createRunner, createSourceReferenceRunner, float32Data, loadBundle, readTensorFile, verifyModel, type NamedTensor, type Report } from '@gru-onnx/verify';
import { ROOT, runCli } from './cli-helpers.ts';
import { FIXTURES, summary } from './imports-helpers.ts';

const RNNS = `${FIXTURES}pytorch-rnns/`;
/** name → the --head its forward() needs (undefined: none needed, unidirectional final-state). */
const MODELS: [string, PytorchHead | undefined][] = [
  ['lstm-uni1-bf', undefined],
  ['lstm-bi2-sf', 'last-step'],
  ['lstm-bi3-bf', 'final-state'],
  ['lstm-uni3-sf-mean', 'mean'],
  ['rnn-tanh-uni2-bf', undefined],
  ['rnn-tanh-bi1-sf', 'mean'],
  ['rnn-relu-uni3-bf', undefined],
  ['rnn-relu-bi2-bf', 'last-step'],
  ['lstm-nobias-uni2-bf', undefined],
  ['gru-bi2-sf', 'final-state'],
];
/** The issue's bar: within 1e-5 of PyTorch's own outputs. */
const TIGHT = 1e-5;

function load(name: string, head: PytorchHead | undefined): SourceModel {
  return loadSourceModel(`${RNNS}${name}.safetensors`, undefined, head ? { head } : {});
}

/** A capture's sets: every input_N.pb and output_N.pb of test_data_set_K, by the name stored in each. */
export function captureSets(dir: string): { name: string; inputs: Record<string, NamedTensor>; outputs: Record<string, NamedTensor> }[] {
  return readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort((a, b) => Number(a.slice(14)) - Number(b.slice(14))).map((set) => {
    const files = readdirSync(join(dir, set));
    const read = (prefix: string) => Object.fromEntries(files.filter((f) => f.startsWith(prefix)).sort().map((f) => {
      const { name, tensor } = readTensorFile(join(dir, set, f));
      return [name, tensor];
    }));
    return { name: set, inputs: read('input_'), outputs: read('output_') };
  });
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

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
const ALL_IO = { h0: true, hN: true, hiddenStates: true } as const;

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

describe('export, then verify (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-rnns-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['lstm-bi2-sf', ['--head', 'last-step']],
    ['rnn-relu-bi2-bf', ['--head', 'last-step']],
  ])('%s: export --h0 --hidden-states --h-n, then verify --bundle of its capture and verify --weights: exit 0', async (name, flags) => {
    const model = join(dir, `${name}.onnx`);
    const e = await runCli(['export', '--weights', `${RNNS}${name}.safetensors`, ...flags, '--h0', '--hidden-states', '--h-n', '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(name.startsWith('lstm')
      ? /^assumed forward \(--head last-step\): out, \(h_n, c_n\) = rnn\(x\); logits = fc\(out\[-1\]\); batch_first=False$/m
      : /^assumed forward \(--head last-step\): out, h_n = rnn\(x\); logits = fc\(out\[:, -1\]\); batch_first=True; nonlinearity='relu'$/m);
    const b = await runCli(['verify', '--model', model, '--bundle', `${RNNS}${name}.capture`, '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0', '--json']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const bundled = JSON.parse(b.stdout) as Report;
    expect(bundled.cases).toHaveLength(5);
    // The sweep generates h0 (and c0) [S, batch, H] and checks every output against the float64 reference.
    const w = await runCli(['verify', '--model', model, '--weights', `${RNNS}${name}.safetensors`, '--shapes', '1x0,0x3,2x10', '--backends', 'reference,ort-cpu', '--json']);
    expect(w.code, w.stdout + w.stderr).toBe(0);
    const report = JSON.parse(w.stdout) as Report;
    expect(report.expected.description).toMatch(name.startsWith('lstm') ? /PyTorch nn\.LSTM weights .*--head last-step\)$/ : /PyTorch nn\.RNN weights .*--head last-step, nonlinearity relu\)$/);
    expect(report.backends.map((x) => [x.name, x.status])).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
    expect(report.backends[1]!.cases[2]!.outputs.map((o) => o.output).sort()).toEqual(name.startsWith('lstm') ? ['c_n', 'h_n', 'hidden_states', 'logits'] : ['h_n', 'hidden_states', 'logits']);
  });

  it.each([
    ['an nn.LSTM with proj_size', [`${RNNS}lstm-proj.safetensors`], /^error: .*lstm-proj\.safetensors: 'rnn\.weight_hr_l0' is \[3, 6\]: an nn\.LSTM with proj_size=3, which is not supported/],
    ['an nn.RNN whose file does not say its nonlinearity', [`${RNNS}rnn-no-nonlinearity.safetensors`], /^error: .*rnn-no-nonlinearity\.safetensors: an nn\.RNN, whose state_dict does not say its nonlinearity .*pass --nonlinearity tanh\|relu/],
    ['--source naming another cell', [`${RNNS}lstm-uni1-bf.safetensors`, '--source', 'pytorch-rnn'], /^error: .*lstm-uni1-bf\.safetensors: --source pytorch-rnn, but the file holds an nn\.LSTM \('rnn\.weight_ih_l0' \[24, 4\]: 4·hidden rows\); pass --source pytorch-lstm/],
    ['--nonlinearity for an nn.LSTM', [`${RNNS}lstm-uni1-bf.safetensors`, '--nonlinearity', 'relu'], /^error: .*lstm-uni1-bf\.safetensors: --nonlinearity is for nn\.RNN; this file holds an nn\.LSTM/],
    ['a nonlinearity that is neither', [`${RNNS}rnn-no-nonlinearity.safetensors`, '--nonlinearity', 'sigmoid'], /^error: option '--nonlinearity <fn>' argument 'sigmoid' is invalid\. Allowed choices are tanh, relu\./],
  ])('export refuses %s: exit 2, one line, no file', async (_, args, message) => {
    const out = join(dir, 'refused.onnx');
    const r = await runCli(['export', '--weights', ...args, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('an nn.RNN given --nonlinearity exports, and verify --weights reads the nonlinearity back from the model', async () => {
    const model = join(dir, 'bare.onnx');
    const weights = `${RNNS}rnn-no-nonlinearity.safetensors`;
    const e = await runCli(['export', '--weights', weights, '--nonlinearity', 'relu', '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(summarizeModel(readFileSync(model)).metadata['gru_onnx.nonlinearity']).toBe('relu');
    const v = await runCli(['verify', '--model', model, '--weights', weights, '--shapes', '2x10', '--backends', 'reference,ort-cpu']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // A nonlinearity other than the model's is a mistake, as a contradicting --head is; without weights it means nothing.
    const wrong = await runCli(['verify', '--model', model, '--weights', weights, '--nonlinearity', 'tanh', '--shapes', '2x10', '--backends', 'ort-cpu']);
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/^error: --nonlinearity tanh, but .*bare\.onnx was exported with --nonlinearity relu \(metadata gru_onnx\.nonlinearity\)\n$/)]);
    const alone = await runCli(['verify', '--model', model, '--nonlinearity', 'relu', '--backends', 'ort-cpu']);
    expect([alone.code, alone.stderr]).toEqual([2, 'error: --nonlinearity: only with --weights (it says how to read an nn.RNN state_dict)\n']);

  });
});

const PYTHON = '/usr/bin/python3';
function torchMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
    return undefined;
  } catch {
    return `${PYTHON} cannot import torch and numpy (apt-get install python3-torch python3-numpy; .ci/run does)`;
  }
}
const missing = torchMissing();
if (missing) console.warn(`test/pytorch-rnns.test.ts: the python/gru_onnx_torch.py tests are skipped: ${missing}`);

describe.skipIf(missing !== undefined)(`python/gru_onnx_torch.py with nn.LSTM and nn.RNN${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-rnns-py-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('save_state_dict records the cell and nonlinearity; capture --state feeds h0/c0; export --h0 --h-n --hidden-states then verify --bundle: exit 0', async () => {
    writeFileSync(join(dir, 'mymodel.py'), [
      'import torch',
      'from gru_onnx_torch import save_state_dict',
      'class M(torch.nn.Module):',
      '    def __init__(self, cell):',
      '        super().__init__()',
      "        self.rnn = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True) if cell == 'lstm' else torch.nn.RNN(3, 4, num_layers=2, nonlinearity='relu', batch_first=True)",
      '        self.fc = torch.nn.Linear(4, 2)',
      '    def forward(self, x, h0, c0=None):',
      "        out, hc = self.rnn(x, (h0, c0) if c0 is not None else h0)",
      '        h_n = hc[0] if c0 is not None else hc',
      '        return (self.fc(h_n[-1]), out, *((hc[0], hc[1]) if c0 is not None else (hc,)))',
      'def lstm():',
      "    torch.manual_seed(5); return M('lstm')",
      'def rnn():',
      "    torch.manual_seed(6); return M('rnn')",
      "if __name__ == '__main__':",
      "    save_state_dict(lstm(), 'lstm.safetensors'); save_state_dict(rnn(), 'rnn.safetensors')",
    ].join('\n'));
    const env = { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' };
    const py = (args: string[]) => promisify(execFile)(PYTHON, args, { cwd: dir, env, timeout: 120_000 });
    await py(['mymodel.py']);
    const rnn = loadSourceModel(join(dir, 'rnn.safetensors'));
    expect(rnn.kind === 'pytorch-rnn' && [rnn.nonlinearity, rnn.numLayers, rnn.batchFirst]).toEqual(['relu', 2, true]);
    for (const [cell, states, outputs] of [['lstm', ['h0=2x4', 'c0=2x4'], 'logits,hidden_states,h_n,c_n'], ['rnn', ['h0=2x4'], 'logits,hidden_states,h_n']] as const) {
      const cap = join(dir, `${cell}.capture`);
      await py([join(ROOT, 'python', 'gru_onnx_torch.py'), 'capture', '--module', `mymodel:${cell}`, '--input-size', '3', '--shapes', '2x1,2x9,0x4', ...states.flatMap((st) => ['--state', st]), '--outputs', outputs, '--out', cap]);
      const model = join(dir, `${cell}.onnx`);
      const e = await runCli(['export', '--weights', join(dir, `${cell}.safetensors`), '--h0', '--h-n', '--hidden-states', '--out', model]);
      expect(e.code, e.stderr).toBe(0);
      const v = await runCli(['verify', '--model', model, '--bundle', cap, '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0', '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const report = JSON.parse(v.stdout) as Report;
      expect(report.cases).toHaveLength(3);
      expect(report.backends[0]!.cases[1]!.outputs.map((o) => o.output).sort()).toEqual(outputs.split(',').sort());
    }
  }, 240_000);
});
