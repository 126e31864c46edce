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
    expect(b.grus[0]!.name).toBe('gru');
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
    expect(src.grus.map((g) => [g.inputSize, g.hiddenSize, g.recurrentActivation])).toEqual([[I, H, 'hardSigmoid'], [H, 4, 'sigmoid']]);
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

  it('an LSTM, a Reshape between GRUs, and a layer after Dense', async () => {
    const lstm = tf.sequential({ layers: [tf.layers.lstm({ units: 4, inputShape: [null, 3] }), tf.layers.dense({ units: 2 })] });
    expect(() => loadTfjsLayersModel(join(dir, 'x'))).toThrow(UserError);
    await saveTfjsLayersModel(tf, lstm, join(dir, 'lstm'));
    expect(() => loadSourceModel(join(dir, 'lstm'))).toThrow(/layer 'lstm_\w+' \(LSTM\) is not supported here/);
    // A GRU that returns only its final state cannot feed another GRU.
    const unstacked = tf.sequential({ layers: [tf.layers.gru({ units: 4, inputShape: [null, 3] }), tf.layers.reshape({ targetShape: [1, 4] }), tf.layers.gru({ units: 4 }), tf.layers.dense({ units: 2 })] });
    await saveTfjsLayersModel(tf, unstacked, join(dir, 'unstacked'));
    expect(() => loadSourceModel(join(dir, 'unstacked'))).toThrow(/layer 'reshape_\w+' \(Reshape\) is not supported after the GRU \(expected Dense\)/);
    const after = tf.sequential({ layers: [tf.layers.gru({ units: 4, inputShape: [null, 3] }), tf.layers.dense({ units: 2 }), tf.layers.activation({ activation: 'softmax' })] });
    await saveTfjsLayersModel(tf, after, join(dir, 'after'));
    expect(() => loadSourceModel(join(dir, 'after'))).toThrow(/layer 'activation_\w+' \(Activation\) after Dense is not supported/);
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
