import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTfjs, type Tf } from '../backend.ts';
import { UserError } from '../errors.ts';
import { detectSourceKind, loadSourceModel } from './source-model.ts';
import { loadTfjsLayersModel, parseTfjsLayersModel, tfjsLayersForward } from './tfjs-layers.ts';
import { saveTfjsLayersModel } from './tfjs-save.ts';

let tf: Tf;
let dir: string;
beforeAll(async () => {
  tf = (await initTfjs('cpu')).tf;
  dir = mkdtempSync(join(tmpdir(), 'tfjs-layers-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const I = 5;
const H = 7;
const O = 3;

/** GRU → Dense with every weight random (tfjs's default bias is zeros, which would hide a bias mapping bug). */
function gruDense(opts: { recurrentActivation?: string; activation?: string; useBias?: boolean; extra?: Partial<Parameters<typeof TF.layers.gru>[0]> } = {}): TF.LayersModel {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed });
  const m = tf.sequential();
  m.add(tf.layers.gru({
    units: H,
    inputShape: [null, I],
    kernelInitializer: init(1),
    recurrentInitializer: init(2),
    biasInitializer: init(3),
    ...(opts.recurrentActivation ? { recurrentActivation: opts.recurrentActivation as 'sigmoid' } : {}),
    ...(opts.useBias === false ? { useBias: false } : {}),
    ...opts.extra,
  }));
  m.add(tf.layers.dense({ units: O, activation: (opts.activation ?? 'linear') as 'linear', kernelInitializer: init(4), biasInitializer: init(5), ...(opts.useBias === false ? { useBias: false } : {}) }));
  return m;
}

/** The weights file a saved model.json names. */
function weightsPath(dir: string): string {
  const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  return join(dir, j.weightsManifest[0]!.paths[0]!);
}

async function saved(m: TF.LayersModel, name: string): Promise<string> {
  const d = join(dir, name);
  await saveTfjsLayersModel(tf, m, d);
  return d;
}

/** Max |reference − model.predict| over batch 3 at seq 1, 10, 37; inputs scaled by 3 so hardSigmoid's clip is reached. */
function maxDiffToPredict(m: TF.LayersModel, path: string): number {
  const src = loadSourceModel(path);
  if (src.kind !== 'tfjs-layers') throw new Error(`loaded as ${src.kind}`);
  let worst = 0;
  for (const seq of [1, 10, 37]) {
    const x = tf.mul(tf.randomNormal([3, seq, I], 0, 1, 'float32', seq), 3);
    const y = (m.predict(x) as TF.Tensor).dataSync();
    const ref = tfjsLayersForward(src, x.dataSync(), 3, seq).logits;
    x.dispose();
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - y[i]!));
  }
  return worst;
}

describe('tfjs-layers GRU → Dense: float64 reference against model.predict', () => {
  it.each([
    ['hardSigmoid (default), linear', {}],
    ['sigmoid, softmax', { recurrentActivation: 'sigmoid', activation: 'softmax' }],
    ['no biases; dropout and recurrentDropout (inference no-ops)', { useBias: false, extra: { dropout: 0.3, recurrentDropout: 0.2 } }],
  ] as const)('%s: within 1e-5 at seq 1, 10, 37', async (name, opts) => {
    const m = gruDense(opts);
    const path = await saved(m, name.replace(/\W+/g, '-'));
    expect(detectSourceKind(path)).toBe('tfjs-layers');
    expect(detectSourceKind(join(path, 'model.json'))).toBe('tfjs-layers');
    expect(maxDiffToPredict(m, path)).toBeLessThanOrEqual(1e-5);
  });
});

describe('Keras-style model.json (tensorflowjs_converter output)', () => {
  it('reads the model_config wrapper and cell-scoped weight names (gru/gru_cell/kernel) to the same model', async () => {
    const path = await saved(gruDense({ activation: 'softmax' }), 'keras-style');
    const json = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as {
      modelTopology: { class_name: string; config: { layers: { config: { name: string } }[] } };
      weightsManifest: { weights: { name: string }[] }[];
    };
    const [gruName, denseName] = json.modelTopology.config.layers.map((l) => l.config.name) as [string, string];
    json.modelTopology.config.layers[0]!.config.name = 'gru';
    json.modelTopology.config.layers[1]!.config.name = 'dense';
    for (const w of json.weightsManifest[0]!.weights) {
      w.name = w.name.replace(`${gruName}/`, 'gru/gru_cell/').replace(`${denseName}/`, 'dense/');
    }
    const keras = { ...json, modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: json.modelTopology } };
    const weights = readFileSync(weightsPath(path));
    const a = loadTfjsLayersModel(path);
    const b = parseTfjsLayersModel(keras, () => weights, 'keras');
    expect(b.layers[0]!.name).toBe('gru');
    const x = Float32Array.from({ length: 2 * 4 * I }, (_, i) => Math.sin(i));
    expect(tfjsLayersForward(b, x, 2, 4).logits).toEqual(tfjsLayersForward(a, x, 2, 4).logits);
  });
});

describe('stacked tfjs-layers GRUs', () => {
  it('GRU(7, returnSequences) → GRU(4, sigmoid) → Dense(softmax): reference within 1e-5 of model.predict', async () => {
    const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed });
    const m = tf.sequential({
      layers: [
        tf.layers.gru({ units: H, inputShape: [null, I], returnSequences: true, kernelInitializer: init(21), recurrentInitializer: init(22), biasInitializer: init(23) }),
        tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid', kernelInitializer: init(24), recurrentInitializer: init(25), biasInitializer: init(26) }),
        tf.layers.dense({ units: O, activation: 'softmax', kernelInitializer: init(27), biasInitializer: init(28) }),
      ],
    });
    const path = await saved(m, 'stacked');
    const src = loadSourceModel(path);
    if (src.kind !== 'tfjs-layers') throw new Error(src.kind);
    expect(src.layers.map((g) => [g.cell, g.inputSize, g.hiddenSize, g.cell === 'GRU' && g.recurrentActivation])).toEqual([['GRU', I, H, 'hardSigmoid'], ['GRU', H, 4, 'sigmoid']]);
    expect(maxDiffToPredict(m, path)).toBeLessThanOrEqual(1e-5);
  });

  it('refuses a first GRU that does not return its sequences', async () => {
    const path = await saved(gruDense(), 'for-stacking');
    const j = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: unknown[] } } };
    j.modelTopology.config.layers.unshift(structuredClone(j.modelTopology.config.layers[0]));
    expect(() => parseTfjsLayersModel(j, () => readFileSync(weightsPath(path)), 'm')).toThrow(/\(GRU\): return_sequences = false is not supported/);
  });
});

describe('tfjs-layers models outside GRU → Dense are refused, naming the layer or option', () => {
  let base: Record<string, unknown>;
  let weights: Uint8Array;
  beforeAll(async () => {
    const path = await saved(gruDense(), 'base');
    base = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as Record<string, unknown>;
    weights = readFileSync(weightsPath(path));
  });
  /** The saved model.json with one layer's config changed. */
  const edit = (layer: number, change: Record<string, unknown>) => {
    const j = structuredClone(base) as { modelTopology: { config: { layers: { config: Record<string, unknown> }[] } } };
    Object.assign(j.modelTopology.config.layers[layer]!.config, change);
    return () => parseTfjsLayersModel(j, () => weights, 'model.json');
  };
  it.each([
    ['return_sequences', 0, { return_sequences: true }, /layer 'gru_\w+' \(GRU\): return_sequences = true is not supported/],
    ['go_backwards', 0, { go_backwards: true }, /go_backwards = true is not supported/],
    ['stateful', 0, { stateful: true }, /stateful = true is not supported/],
    ['return_state', 0, { return_state: true }, /return_state = true is not supported/],
    ['reset_after', 0, { reset_after: true }, /reset_after = true is not supported/],
    ['a relu GRU', 0, { activation: 'relu' }, /\(GRU\): activation = "relu" is not supported/],
    ['a tanh recurrent activation', 0, { recurrent_activation: 'tanh' }, /recurrent_activation = "tanh" is not supported/],
    ['an unknown option', 0, { use_cudnn: 'auto' }, /\(GRU\): option 'use_cudnn' is not supported/],
    ['a relu Dense', 1, { activation: 'relu' }, /layer 'dense_\w+' \(Dense\): activation = "relu" is not supported/],
    ['a float16 layer', 1, { dtype: 'float16' }, /dtype "float16" is not supported/],
  ] as const)('%s', (_, layer, change, message) => {
    const run = edit(layer, change);
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  it('a Bidirectional wrapper, a Reshape between GRUs, and a layer after Dense', async () => {
    const bi = tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4 }) as TF.RNN, inputShape: [null, 3] }), tf.layers.dense({ units: 2 })] });
    expect(() => loadTfjsLayersModel(join(dir, 'x'))).toThrow(UserError);
    await saveTfjsLayersModel(tf, bi, join(dir, 'bi'));
    expect(() => loadSourceModel(join(dir, 'bi'))).toThrow(/layer 'bidirectional_\w+' \(Bidirectional\) is not supported here: .* \(a Bidirectional wrapper; only forward GRU, LSTM and SimpleRNN layers are supported\)/);
    // A GRU that returns only its final state cannot feed another GRU.
    const unstacked = tf.sequential({ layers: [tf.layers.gru({ units: 4, inputShape: [null, 3] }), tf.layers.reshape({ targetShape: [1, 4] }), tf.layers.gru({ units: 4 }), tf.layers.dense({ units: 2 })] });
    await saveTfjsLayersModel(tf, unstacked, join(dir, 'unstacked'));
    expect(() => loadSourceModel(join(dir, 'unstacked'))).toThrow(/layer 'reshape_\w+' \(Reshape\) is not supported after the GRU \(expected Dense\)/);
    const after = tf.sequential({ layers: [tf.layers.gru({ units: 4, inputShape: [null, 3] }), tf.layers.dense({ units: 2 }), tf.layers.activation({ activation: 'softmax' })] });
    await saveTfjsLayersModel(tf, after, join(dir, 'after'));
    expect(() => loadSourceModel(join(dir, 'after'))).toThrow(/layer 'activation_\w+' \(Activation\) is not supported after Dense/);
  });

  it('a graph model, a quantized weight, and a truncated weight file', () => {
    const graph = join(dir, 'graph.json');
    writeFileSync(graph, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    expect(() => loadSourceModel(graph)).toThrow(/graph model; only layers models/);
    const q = structuredClone(base) as { weightsManifest: { weights: Record<string, unknown>[] }[] };
    q.weightsManifest[0]!.weights[0]!.quantization = { dtype: 'uint8', scale: 0.1, min: -1 };
    expect(() => parseTfjsLayersModel(q, () => weights, 'm')).toThrow(/weight 'gru_\w+\/kernel' is quantized/);
    expect(() => parseTfjsLayersModel(base, () => weights.subarray(0, 40), 'm')).toThrow(/runs past the end of its weight files/);
  });
});

describe('saveTfjsLayersModel', () => {
  it('writes the weights under their own hash, switches model.json to them last, then removes the old file', async () => {
    const d = join(dir, 'resave');
    const a = gruDense();
    await saveTfjsLayersModel(tf, a, d);
    const first = weightsPath(d);
    expect(first).toMatch(/weights-[0-9a-f]{16}\.bin$/);
    // A legacy weights.bin named by an older model.json is cleaned up as well.
    const j = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    writeFileSync(join(d, 'weights.bin'), readFileSync(first));
    j.weightsManifest[0]!.paths = ['weights.bin'];
    writeFileSync(join(d, 'model.json'), JSON.stringify(j));
    rmSync(first);
    const b = gruDense({ extra: { units: 5 } });
    await saveTfjsLayersModel(tf, b, d);
    expect(readdirSync(d).sort()).toEqual([basename(weightsPath(d)), 'model.json'].sort());
    expect(weightsPath(d)).not.toBe(first);
    expect(loadSourceModel(d).kind).toBe('tfjs-layers');
  });
});

describe('tfjs-layers LSTM and SimpleRNN: float64 reference against model.predict', () => {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed });
  const weights = (seed: number, recurrentStddev = 0.6) => ({
    kernelInitializer: init(seed),
    recurrentInitializer: tf.initializers.randomNormal({ mean: 0, stddev: recurrentStddev, seed: seed + 1 }),
    biasInitializer: init(seed + 2),
  });
  const denseOut = (seed: number, activation?: 'softmax') => tf.layers.dense({ units: O, kernelInitializer: init(seed), biasInitializer: init(seed + 1), ...(activation ? { activation } : {}) });
  it.each([
    ['LSTM, hardSigmoid (default), unitForgetBias', () => [tf.layers.lstm({ units: H, inputShape: [null, I], unitForgetBias: true, ...weights(31) }), denseOut(34)]],
    ['LSTM, sigmoid, softmax', () => [tf.layers.lstm({ units: H, inputShape: [null, I], recurrentActivation: 'sigmoid', ...weights(41) }), denseOut(44, 'softmax')]],
    ['LSTM without bias', () => [tf.layers.lstm({ units: H, inputShape: [null, I], useBias: false, ...weights(51) }), denseOut(54)]],
    ['SimpleRNN tanh (default)', () => [tf.layers.simpleRNN({ units: H, inputShape: [null, I], ...weights(61) }), denseOut(64)]],
    ['SimpleRNN relu', () => [tf.layers.simpleRNN({ units: H, inputShape: [null, I], activation: 'relu', ...weights(71, 0.2) }), denseOut(74)]],
    ['SimpleRNN linear', () => [tf.layers.simpleRNN({ units: H, inputShape: [null, I], activation: 'linear', ...weights(81, 0.2) }), denseOut(84)]],
    ['GRU → LSTM(4) → SimpleRNN(6, relu), softmax', () => [
      tf.layers.gru({ units: H, inputShape: [null, I], returnSequences: true, ...weights(91) }),
      tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', returnSequences: true, ...weights(94) }),
      tf.layers.simpleRNN({ units: 6, activation: 'relu', ...weights(97, 0.2) }),
      denseOut(99, 'softmax'),
    ]],
  ] as [string, () => TF.layers.Layer[]][])('%s: within 1e-5 at seq 1, 10, 37', async (name, layers) => {
    const m = tf.sequential({ layers: layers() });
    const path = await saved(m, name.replace(/\W+/g, '-'));
    expect(maxDiffToPredict(m, path)).toBeLessThanOrEqual(1e-5);
  });

  it('reads each layer as the cell it is, with its sizes and options', async () => {
    const m = tf.sequential({
      layers: [
        tf.layers.gru({ units: H, inputShape: [null, I], returnSequences: true }),
        tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', returnSequences: true, unitForgetBias: true }),
        tf.layers.simpleRNN({ units: 6, activation: 'relu' }),
        tf.layers.dense({ units: O }),
      ],
    });
    const src = loadTfjsLayersModel(await saved(m, 'cells'));
    expect(src.layers.map((l) => [l.cell, l.inputSize, l.hiddenSize, l.kernel.length, l.recurrentKernel.length, l.bias.length])).toEqual([
      ['GRU', I, H, I * 3 * H, H * 3 * H, 3 * H],
      ['LSTM', H, 4, H * 16, 4 * 16, 16],
      ['SimpleRNN', 4, 6, 4 * 6, 36, 6],
    ]);
    const lstm = src.layers[1]!;
    expect(lstm.cell === 'LSTM' && [lstm.recurrentActivation, lstm.unitForgetBias]).toEqual(['sigmoid', true]);
    // unitForgetBias is in the saved bias already (its forget block starts at ones), not added again.
    expect(Array.from(lstm.bias)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const rnn = src.layers[2]!;
    expect(rnn.cell === 'SimpleRNN' && rnn.activation).toBe('relu');
  });
});

describe('tfjs-layers states: h0, c0, hidden states, h_n and c_n', () => {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed });
  const weights = (seed: number) => ({ kernelInitializer: init(seed), recurrentInitializer: init(seed + 1), biasInitializer: init(seed + 2) });

  it('match a tfjs model on the same layers with returnSequences, returnState and initialState', async () => {
    // x → LSTM(4) → SimpleRNN(4): h0 [2, batch, 4] (both layers), c0 [1, batch, 4] (the LSTM only).
    const x = tf.input({ shape: [null, I] });
    const h0 = [tf.input({ shape: [4] }), tf.input({ shape: [4] })];
    const c0 = tf.input({ shape: [4] });
    const lstm = tf.layers.lstm({ units: 4, returnSequences: true, returnState: true, unitForgetBias: true, ...weights(111) });
    const rnn = tf.layers.simpleRNN({ units: 4, returnSequences: true, returnState: true, ...weights(114) });
    const [seq1, h1, c1] = lstm.apply(x, { initialState: [h0[0]!, c0] }) as TF.SymbolicTensor[];
    const [seq2, h2] = rnn.apply(seq1!, { initialState: [h0[1]!] }) as TF.SymbolicTensor[];
    const dense = tf.layers.dense({ units: O, kernelInitializer: init(117), biasInitializer: init(118) });
    const states = tf.model({ inputs: [x, h0[0]!, c0, h0[1]!], outputs: [seq2!, h1!, h2!, c1!, dense.apply(h2!) as TF.SymbolicTensor] });
    // The same layers as a saveable model (returnSequences on the first only).
    const saveable = tf.sequential({
      layers: [
        tf.layers.lstm({ units: 4, inputShape: [null, I], returnSequences: true, unitForgetBias: true }),
        tf.layers.simpleRNN({ units: 4 }),
        tf.layers.dense({ units: O }),
      ],
    });
    saveable.setWeights(states.getWeights());
    const src = loadTfjsLayersModel(await saved(saveable, 'states'));
    const [batch, seq] = [2, 9];
    const xs = tf.mul(tf.randomNormal([batch, seq, I], 0, 1, 'float32', 7), 3);
    const h0s = [tf.randomNormal([batch, 4], 0, 1, 'float32', 8), tf.randomNormal([batch, 4], 0, 1, 'float32', 9)];
    const c0s = tf.randomNormal([batch, 4], 0, 1, 'float32', 10);
    const [hidden, hA, hB, cA, logits] = (states.predict([xs, h0s[0]!, c0s, h0s[1]!]) as TF.Tensor[]).map((t) => t.dataSync());
    const ref = tfjsLayersForward(src, xs.dataSync(), batch, seq, { h0: [...h0s[0]!.dataSync(), ...h0s[1]!.dataSync()], c0: c0s.dataSync() });
    const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(1e-5);
    };
    close(ref.logits, logits!);
    close(ref.hiddenStates, hidden!);
    close(ref.hN, [...hA!, ...hB!]);
    close(ref.cN!, cA!);
    // At seq 0 no step runs: h_n = h0, c_n = c0, hidden_states is empty, and the Dense reads h0's last layer.
    const h0Flat = [...h0s[0]!.dataSync(), ...h0s[1]!.dataSync()];
    const empty = tfjsLayersForward(src, [], batch, 0, { h0: h0Flat, c0: c0s.dataSync() });
    expect(Array.from(empty.hN)).toEqual(Array.from(Float32Array.from(h0Flat)));
    expect(Array.from(empty.cN!)).toEqual(Array.from(c0s.dataSync()));
    expect(empty.hiddenStates).toHaveLength(0);
    const atH0 = (dense.apply(h0s[1]!) as TF.Tensor).dataSync();
    close(empty.logits, atH0);
    // Without a state, seq 0 reads zeros: logits = the Dense's bias.
    close(tfjsLayersForward(src, [], batch, 0).logits, [...src.dense.bias, ...src.dense.bias]);
    // Batch 0: every output empty.
    const none = tfjsLayersForward(src, [], 0, 5);
    expect([none.logits.length, none.hiddenStates.length, none.hN.length, none.cN!.length]).toEqual([0, 0, 0, 0]);
  });

  it('layers of different units: h_n is each layer\'s block in turn, and h0 is refused, saying why', async () => {
    const m = tf.sequential({ layers: [tf.layers.simpleRNN({ units: 3, inputShape: [null, I], returnSequences: true }), tf.layers.gru({ units: 2 }), tf.layers.dense({ units: O })] });
    const src = loadTfjsLayersModel(await saved(m, 'mixed-units'));
    const out = tfjsLayersForward(src, new Float32Array(2 * 4 * I).fill(0.5), 2, 4);
    expect([out.hN.length, out.cN, out.hiddenStates.length]).toEqual([2 * 3 + 2 * 2, undefined, 2 * 4 * 2]);
    expect(() => tfjsLayersForward(src, [], 2, 0, { h0: new Float32Array(10) })).toThrow(/h0 and c0 need every recurrent layer to have the same units; this model's are 3, 2/);
    expect(() => tfjsLayersForward(loadTfjsLayersModel(join(dir, 'states')), [], 2, 0, { h0: new Float32Array(8) })).toThrow(/h0 has 8 values, expected 2×2×4/);
  });
});

describe('tfjs-layers LSTM and SimpleRNN options outside what is read are refused, naming the layer and option', () => {
  const cases: [string, () => TF.layers.Layer, Record<string, unknown>, RegExp][] = [
    ['LSTM go_backwards', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { go_backwards: true }, /layer 'lstm_\w+' \(LSTM\): go_backwards = true is not supported/],
    ['LSTM stateful', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { stateful: true }, /\(LSTM\): stateful = true is not supported/],
    ['LSTM return_state', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { return_state: true }, /\(LSTM\): return_state = true is not supported/],
    ['LSTM relu', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { activation: 'relu' }, /\(LSTM\): activation = "relu" is not supported/],
    ['LSTM tanh recurrent activation', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { recurrent_activation: 'tanh' }, /\(LSTM\): recurrent_activation = "tanh" is not supported/],
    ['LSTM reset_after', () => tf.layers.lstm({ units: 3, inputShape: [null, I] }), { reset_after: true }, /\(LSTM\): option 'reset_after' is not supported/],
    ['SimpleRNN elu', () => tf.layers.simpleRNN({ units: 3, inputShape: [null, I] }), { activation: 'elu' }, /layer 'simple_rnn_\w+' \(SimpleRNN\): activation = "elu" is not supported/],
    ['SimpleRNN go_backwards', () => tf.layers.simpleRNN({ units: 3, inputShape: [null, I] }), { go_backwards: true }, /\(SimpleRNN\): go_backwards = true is not supported/],
    ['SimpleRNN recurrent_activation', () => tf.layers.simpleRNN({ units: 3, inputShape: [null, I] }), { recurrent_activation: 'sigmoid' }, /\(SimpleRNN\): option 'recurrent_activation' is not supported/],
    ['SimpleRNN unit_forget_bias', () => tf.layers.simpleRNN({ units: 3, inputShape: [null, I] }), { unit_forget_bias: true }, /\(SimpleRNN\): option 'unit_forget_bias' is not supported/],
  ];
  it.each(cases)('%s', async (name, layer, change, message) => {
    const path = await saved(tf.sequential({ layers: [layer(), tf.layers.dense({ units: 2 })] }), `refuse-${name.replace(/\W+/g, '-')}`);
    const j = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: { config: Record<string, unknown> }[] } } };
    Object.assign(j.modelTopology.config.layers[0]!.config, change);
    const run = () => parseTfjsLayersModel(j, () => readFileSync(weightsPath(path)), 'model.json');
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  it('an LSTM that does not return its sequences cannot feed another layer', async () => {
    const path = await saved(tf.sequential({ layers: [tf.layers.lstm({ units: 3, inputShape: [null, I] }), tf.layers.dense({ units: 2 })] }), 'lstm-unstacked');
    const j = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: unknown[] } } };
    j.modelTopology.config.layers.unshift(structuredClone(j.modelTopology.config.layers[0]));
    expect(() => parseTfjsLayersModel(j, () => readFileSync(weightsPath(path)), 'm')).toThrow(/\(LSTM\): return_sequences = false is not supported/);
  });
});
