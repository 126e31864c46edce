/**
 * TensorFlow.js LSTM, SimpleRNN and mixed recurrent models (fixtures/tfjs-rnns, made with tfjs itself): the float64
 * reference and every export form against tfjs's own logits, hidden states, h_n and c_n, at seq 1, 10, 37 and
 * 200, from zeros and from a given h0/c0; seq 0 and batch 0 (which tfjs refuses) by gru-onnx's rule.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, initTfjs, loadSourceModel, saveTfjsLayersModel, UserError, tfjsLayersForward, tfjsStateSizes, type TfjsLayersModel } from '@gru-onnx/model';
import { allNodes, exportSourceModel, exportTfjsLayersModel, onnx } from '@gru-onnx/onnx';
import { createRunner, readSignature, verifyModel, type BundleData } from '@gru-onnx/verify';
import { runCli } from './cli-helpers.ts';
import { FIXTURES, summary } from './imports-helpers.ts';

const DIR = `${FIXTURES}tfjs-rnns/`;
const MODELS = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const ATOL = 1e-5;

/** One fixture case: tfjs's inputs and outputs (fixtures/tfjs-rnns/README.md). */
interface TfjsCase {
  id: string;
  batch: number;
  seq: number;
  x: Float32Array;
  h0?: Float32Array;
  c0?: Float32Array;
  logits: Float32Array;
  hiddenStates: Float32Array;
  hN: Float32Array;
  cN?: Float32Array;
}

function tfjsCases(name: string): TfjsCase[] {
  const t = decodeSafetensors(readFileSync(join(DIR, name, 'cases.safetensors'))).tensors;
  return [...t.keys()].filter((k) => k.startsWith('x_')).map((k) => {
    const id = k.slice(2);
    const get = (n: string) => t.get(`${n}_${id}`)?.data;
    const [batch, seq] = t.get(k)!.shape as [number, number];
    return { id, batch, seq, x: t.get(k)!.data, h0: get('h0'), c0: get('c0'), logits: get('logits')!, hiddenStates: get('hidden_states')!, hN: get('h_n')!, cN: get('c_n') };
  });
}

function tfjsModel(name: string): TfjsLayersModel {
  const m = loadSourceModel(resolve(DIR, name));
  if (m.kind !== 'tfjs-layers') throw new Error(`${name} loaded as ${m.kind}`);
  return m;
}

/** max |a − e| with the index, for messages; lengths must agree. */
function worst(a: ArrayLike<number>, e: ArrayLike<number>): { maxAbs: number; at: number } {
  expect(a.length).toBe(e.length);
  let maxAbs = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (!(d <= maxAbs)) [maxAbs, at] = [d, i];
  }
  return { maxAbs, at };
}

describe('fixtures/tfjs-rnns', () => {
  it('holds the models the README lists, each with its cases', () => {
    expect(MODELS).toEqual(['gru-lstm-rnn', 'lstm-hard', 'lstm-sigmoid', 'lstm-stack', 'rnn-relu', 'rnn-tanh']);
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    for (const m of MODELS) {
      expect(readme).toContain(`| \`${m}\` |`);
      expect(tfjsCases(m).map((c) => c.id).sort()).toEqual(['b2_t1', 'b2_t10', 'b2_t200', 'b2_t37', 'b3_t10_h0', 'b3_t1_h0', 'b3_t37_h0']);
    }
  });
});

describe('the float64 reference against tfjs itself', () => {
  it.each(MODELS)('%s: logits, hidden states, h_n and c_n within 1e-5 at seq 1, 10, 37, 200, from zeros and from a given h0/c0', (name) => {
    const m = tfjsModel(name);
    for (const c of tfjsCases(name)) {
      const ref = tfjsLayersForward(m, c.x, c.batch, c.seq, { h0: c.h0, c0: c.c0 });
      for (const [what, got, expected] of [['logits', ref.logits, c.logits], ['hidden_states', ref.hiddenStates, c.hiddenStates], ['h_n', ref.hN, c.hN], ['c_n', ref.cN, c.cN]] as const) {
        expect(got === undefined, `${c.id} ${what}: present in one only`).toBe(expected === undefined);
        if (!got || !expected) continue;
        const w = worst(got, expected);
        expect(w.maxAbs, `${c.id} ${what}[${w.at}]: ${got[w.at]} vs tfjs ${expected[w.at]}`).toBeLessThanOrEqual(ATOL);
      }
    }
  });
});

type Tensor = { dims: number[]; data: Float32Array };
type BundleCase = BundleData['cases'][number];

/** A fixture case as feeds (x, h0, c0; zeros where tfjs started from zeros) and every output tfjs gave. */
function fullCase(m: TfjsLayersModel, c: TfjsCase, output: string): BundleCase {
  const { slots, lstmSlots, hiddenSize: H, lastFeatures } = tfjsStateSizes(m);
  const state = (slotsN: number, v: Float32Array | undefined): Tensor => ({ dims: [slotsN, c.batch, H!], data: v ?? new Float32Array(slotsN * c.batch * H!) });
  return {
    name: c.id,
    inputs: { x: { dims: [c.batch, c.seq, m.inputSize], data: c.x }, h0: state(slots, c.h0), ...(lstmSlots > 0 ? { c0: state(lstmSlots, c.c0) } : {}) },
    outputs: {
      [output]: { dims: [c.batch, m.outputSize], data: c.logits },
      hidden_states: { dims: [c.batch, c.seq, lastFeatures], data: c.hiddenStates },
      h_n: { dims: [slots, c.batch, H!], data: c.hN },
      ...(lstmSlots > 0 ? { c_n: { dims: [lstmSlots, c.batch, H!], data: c.cN! } } : {}),
    },
  };
}

/**
 * seq 0 (from zeros and from the h0 case's state) and batch 0, which tfjs refuses: the expected values are
 * gru-onnx's rule, hidden_states empty, h_n = h0, c_n = c0 and the Dense on h0's last layer (zeros without h0),
 * as the reference computes them (its seq-0 rule is checked against tfjs's Dense in tfjs-layers.test.ts).
 */
function emptyCases(m: TfjsLayersModel, from: TfjsCase, output: string): BundleCase[] {
  const zero = { ...from, id: 'b3_t0', seq: 0, x: new Float32Array(0), h0: undefined, c0: undefined };
  const given = { ...from, id: 'b3_t0_h0', seq: 0, x: new Float32Array(0) };
  const none = { ...from, id: 'b0_t5', batch: 0, seq: 5, x: new Float32Array(0), h0: new Float32Array(0), c0: from.c0 && new Float32Array(0) };
  return [zero, given, none].map((c) => {
    const ref = tfjsLayersForward(m, c.x, c.batch, c.seq, { h0: c.h0, c0: c.c0 });
    const f32 = (v: Float64Array | undefined) => v && Float32Array.from(v);
    return fullCase(m, { ...c, logits: f32(ref.logits)!, hiddenStates: f32(ref.hiddenStates)!, hN: f32(ref.hN)!, cN: f32(ref.cN) }, output);
  });
}

/** verify on ort-cpu and ort-wasm, every output compared at atol 1e-5, rtol 0 (the bar). */
async function verifyAll(model: Uint8Array, cases: BundleCase[]) {
  return verifyModel({ bundle: { model, cases }, runners: ['ort-cpu', 'ort-wasm'], createRunner: (name) => createRunner(name), override: { atol: ATOL, rtol: 0 } });
}

const ONNX_CELL = { GRU: 'GRU', LSTM: 'LSTM', SimpleRNN: 'RNN' } as const;
const FORMS = ['fused', 'scan', 'auto'] as const;

describe.each(FORMS)('tfjs-layers imports exported --form %s', (form) => {
  it.each(MODELS)('%s: logits, hidden_states, h_n, c_n within 1e-5 of tfjs on ort-cpu and ort-wasm; seq 0 and batch 0 by the rule', async (name) => {
    const m = tfjsModel(name);
    const bytes = exportSourceModel(m, { form, hiddenStates: true, hN: true, h0: true });
    const graph = onnx.ModelProto.decode(bytes).graph!;
    const output = m.dense.activation === 'softmax' ? 'probabilities' : 'logits';
    const lstm = m.layers.some((l) => l.cell === 'LSTM');
    expect(readSignature(bytes).inputs.map((i) => i.name)).toEqual(['x', 'h0', ...(lstm ? ['c0'] : [])]);
    expect(readSignature(bytes).outputs.map((o) => o.name)).toEqual([output, 'hidden_states', 'h_n', ...(lstm ? ['c_n'] : [])]);
    const recurrentOps = allNodes(graph).map((n) => n.opType).filter((op) => op === 'GRU' || op === 'LSTM' || op === 'RNN');
    if (form === 'fused') expect(recurrentOps).toEqual(m.layers.map((l) => ONNX_CELL[l.cell]));
    if (form === 'scan') expect(recurrentOps).toEqual([]);

    const cases = tfjsCases(name);
    const report = await verifyAll(bytes, [...cases.map((c) => fullCase(m, c, output)), ...emptyCases(m, cases.find((c) => c.id === 'b3_t1_h0')!, output)]);
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
      ['ort-cpu', 'pass', 10],
      ['ort-wasm', 'pass', 10],
    ]);
  });

  it.each(MODELS)('%s: without state I/O, x → logits (or probabilities) only, within 1e-5 of tfjs predict', async (name) => {
    const m = tfjsModel(name);
    const bytes = exportSourceModel(m, { form });
    const output = readSignature(bytes).outputs.map((o) => o.name);
    expect(output).toEqual([m.dense.activation === 'softmax' ? 'probabilities' : 'logits']);
    const cases = tfjsCases(name).filter((c) => c.h0 === undefined);
    const report = await verifyAll(bytes, cases.map((c) => ({ name: c.id, inputs: { x: { dims: [c.batch, c.seq, m.inputSize], data: c.x } }, outputs: { [output[0]!]: { dims: [c.batch, m.outputSize], data: c.logits } } })));
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
      ['ort-cpu', 'pass', 4],
      ['ort-wasm', 'pass', 4],
    ]);
  });
});

describe('a linear SimpleRNN (ONNX RNN with Affine(1, 0))', () => {
  it.each(FORMS)('--form %s: within 1e-5 of tfjs predict at seq 1, 10, 37', async (form) => {
    const { tf } = await initTfjs('cpu');
    const init = (seed: number, stddev: number) => tf.initializers.randomNormal({ mean: 0, stddev, seed });
    const model = tf.sequential({
      layers: [
        tf.layers.simpleRNN({ units: 6, inputShape: [null, 4], activation: 'linear', kernelInitializer: init(1, 0.5), recurrentInitializer: init(2, 0.2), biasInitializer: init(3, 0.5) }),
        tf.layers.dense({ units: 2, kernelInitializer: init(4, 0.5), biasInitializer: init(5, 0.5) }),
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-linear-'));
    try {
      await saveTfjsLayersModel(tf, model, dir);
      const m = tfjsModel(dir);
      const bytes = exportTfjsLayersModel(m, { form });
      const cases = [1, 10, 37].map((seq) => {
        const x = tf.randomNormal([2, seq, 4], 0, 1, 'float32', seq);
        const y = model.predict(x) as typeof x;
        return { name: `b2_t${seq}`, inputs: { x: { dims: [2, seq, 4], data: Float32Array.from(x.dataSync()) } }, outputs: { logits: { dims: [2, 2], data: Float32Array.from(y.dataSync()) } } };
      });
      const report = await verifyAll(bytes, cases);
      expect(report.backends.map((b) => [b.name, b.status]), summary(report)).toEqual([['ort-cpu', 'pass'], ['ort-wasm', 'pass']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('layers of different units', () => {
  it('export with h0 or h_n is refused, saying why; without them it exports', async () => {
    const { tf } = await initTfjs('cpu');
    const model = tf.sequential({ layers: [tf.layers.lstm({ units: 3, inputShape: [null, 4], returnSequences: true }), tf.layers.simpleRNN({ units: 2 }), tf.layers.dense({ units: 2 })] });
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-mixed-units-'));
    try {
      await saveTfjsLayersModel(tf, model, dir);
      const m = tfjsModel(dir);
      for (const options of [{ h0: true }, { hN: true }]) {
        expect(() => exportTfjsLayersModel(m, options)).toThrow(UserError);
        expect(() => exportTfjsLayersModel(m, options)).toThrow(/same hidden size; this model's are 3, 2/);
      }
      expect(readSignature(exportTfjsLayersModel(m, { hiddenStates: true })).outputs.map((o) => o.name)).toEqual(['logits', 'hidden_states']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gru-onnx export --weights model.json, then verify --weights model.json', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfjs-rnns-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['lstm-hard', 'rnn-relu', 'gru-lstm-rnn'])('%s: both exit 0', async (name) => {
    const weights = join(DIR, name, 'model.json');
    const out = join(dir, `${name}.onnx`);
    const exported = await runCli(['export', '--weights', weights, '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    const m = onnx.ModelProto.decode(readFileSync(out));
    expect(m.metadataProps!.find((p) => p.key === 'gru_onnx.source')?.value).toBe('tfjs-layers');
    const verified = await runCli(['verify', '--model', out, '--weights', weights, '--backends', 'reference,ort-cpu', '--shapes', '2x1,2x37']);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/ort-cpu/);
  });

  it.each(['fused', 'scan'])('gru-lstm-rnn --form %s with --h0 --h-n --hidden-states: verify --weights checks every output (exit 0)', async (form) => {
    const weights = join(DIR, 'gru-lstm-rnn', 'model.json');
    const out = join(dir, `gru-lstm-rnn-states-${form}.onnx`);
    const exported = await runCli(['export', '--weights', weights, '--out', out, '--form', form, '--h0', '--h-n', '--hidden-states']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readSignature(readFileSync(out)).outputs.map((o) => o.name)).toEqual(['probabilities', 'hidden_states', 'h_n', 'c_n']);
    const verified = await runCli(['verify', '--model', out, '--weights', weights, '--backends', 'reference,ort-cpu', '--shapes', '2x0,2x1,2x37', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { backends: { name: string; status: string }[] };
    expect(report.backends.map((b) => [b.name, b.status])).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
  });

  it('a Bidirectional LSTM: export exits 2 with one error line naming the layer, and writes nothing', async () => {
    const { tf } = await initTfjs('cpu');
    const model = tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }), inputShape: [null, 4] }), tf.layers.dense({ units: 2 })] });
    await saveTfjsLayersModel(tf, model, join(dir, 'bi'));
    const out = join(dir, 'bi.onnx');
    const r = await runCli(['export', '--weights', join(dir, 'bi', 'model.json'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*model\.json: layer 'bidirectional_\w+' \(Bidirectional\) is not supported here: .*a Bidirectional wrapper/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});
