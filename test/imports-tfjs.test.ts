import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTfjs, loadSourceModel, saveTfjsLayersModel, tfjsLayersForward, type Tf, type TfjsLayersModel } from '@gru-onnx/model';
import { allNodes, exportSourceModel, onnx } from '@gru-onnx/onnx';
import { summary, verifyOnOrt, type SourceCase } from './imports-helpers.ts';

type LayersModel = ReturnType<Tf['model']>;
type Tensor = ReturnType<Tf['tensor']>;
type SymbolicTensor = ReturnType<Tf['input']>;

let tf: Tf;
let dir: string;
beforeAll(async () => {
  tf = (await initTfjs('cpu')).tf;
  dir = mkdtempSync(join(tmpdir(), 'imports-tfjs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const I = 5;
const H = 7;
const O = 3;

interface Variant {
  recurrentActivation?: 'sigmoid';
  activation?: 'softmax';
  useBias?: false;
  functional?: true;
  /** A GRU(4, sigmoid) between the GRU and the Dense, the first returning its sequences. */
  stacked?: true;
}

/** GRU → Dense, every weight random (tfjs's zero bias default would hide a bias mapping bug). */
function build(v: Variant): LayersModel {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed });
  const gru = tf.layers.gru({
    units: H,
    kernelInitializer: init(11),
    recurrentInitializer: init(12),
    biasInitializer: init(13),
    ...(v.recurrentActivation ? { recurrentActivation: v.recurrentActivation } : {}),
    ...(v.useBias === false ? { useBias: false } : {}),
  });
  const dense = tf.layers.dense({ units: O, kernelInitializer: init(14), biasInitializer: init(15), ...(v.activation ? { activation: v.activation } : {}), ...(v.useBias === false ? { useBias: false } : {}) });
  if (v.stacked) {
    const second = tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid', kernelInitializer: init(16), recurrentInitializer: init(17), biasInitializer: init(18) });
    const first = tf.layers.gru({ units: H, returnSequences: true, kernelInitializer: init(11), recurrentInitializer: init(12), biasInitializer: init(13) });
    return tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [null, I] }), first, second, dense] });
  }
  if (v.functional) {
    const input = tf.input({ shape: [null, I] });
    return tf.model({ inputs: input, outputs: dense.apply(gru.apply(input)) as SymbolicTensor });
  }
  return tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [null, I] }), gru, dense] });
}

/** model.predict at batch {1, 3} × seq {1, 10, 37}, inputs scaled by 3 so hardSigmoid's clip is reached. */
function predictCases(m: LayersModel): SourceCase[] {
  const cases: SourceCase[] = [];
  for (const batch of [1, 3]) {
    for (const seq of [1, 10, 37]) {
      const x = tf.mul(tf.randomNormal([batch, seq, I], 0, 1, 'float32', 100 * batch + seq), 3);
      const y = m.predict(x) as Tensor;
      cases.push({ name: `b${batch}_t${seq}`, batch, seq, x: Float32Array.from(x.dataSync()), expected: Float32Array.from(y.dataSync()) });
      tf.dispose([x, y]);
    }
  }
  return cases;
}

describe('tfjs-layers GRU → Dense → ONNX, verified against model.predict on ort-cpu and ort-wasm (1e-5 abs)', () => {
  it.each([
    ['Sequential, hardSigmoid (default), linear', {}],
    ['functional, sigmoid, softmax', { functional: true, recurrentActivation: 'sigmoid', activation: 'softmax' }],
    ['Sequential, no biases', { useBias: false }],
    ['stacked GRUs, softmax', { stacked: true, activation: 'softmax' }],
  ] as [string, Variant][])('%s', async (name, v) => {
    const m = build(v);
    const path = join(dir, name.replace(/\W+/g, '-'));
    await saveTfjsLayersModel(tf, m, path);
    const source = loadSourceModel(path);
    expect(source.kind).toBe('tfjs-layers');
    const bytes = exportSourceModel(source);

    const grus = allNodes(onnx.ModelProto.decode(bytes).graph!).filter((n) => n.opType === 'GRU');
    const acts = grus.map((g) => g.attribute!.find((a) => a.name === 'activations')!.strings!.map((s) => new TextDecoder().decode(s))[0]);
    expect(acts).toEqual(v.stacked ? ['HardSigmoid', 'Sigmoid'] : [v.recurrentActivation === 'sigmoid' ? 'Sigmoid' : 'HardSigmoid']);
    // The output is named for what it holds.
    expect(onnx.ModelProto.decode(bytes).graph!.output!.map((o) => o.name)).toEqual([v.activation === 'softmax' ? 'probabilities' : 'logits']);

    const report = await verifyOnOrt(bytes, predictCases(m));
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
      ['ort-cpu', 'pass', 6],
      ['ort-wasm', 'pass', 6],
    ]);

    // Empty inputs: seq 0 reads the zero state, so the output is activation(bias); batch 0 is empty.
    const bias = Float64Array.from(source.kind === 'tfjs-layers' ? source.dense.bias : []);
    const exp = bias.map((b) => Math.exp(b - Math.max(...bias)));
    const atZero = v.activation === 'softmax' ? exp.map((e) => e / exp.reduce((a, b) => a + b, 0)) : bias;
    const I = source.kind === 'tfjs-layers' ? source.inputSize : 0;
    const empty = await verifyOnOrt(bytes, [
      { name: 'seq0', batch: 2, seq: 0, x: new Float32Array(0), expected: Float32Array.from([...atZero, ...atZero]) },
      { name: 'batch0', batch: 0, seq: 3, x: new Float32Array(0), expected: new Float32Array(0) },
    ].map((c) => ({ ...c, inputSize: I, outputSize: bias.length })));
    expect(empty.backends.map((b) => b.status), summary(empty)).toEqual(['pass', 'pass']);
    expect(tfjsLayersForward(source as TfjsLayersModel, new Float32Array(0), 2, 0).logits).toEqual(Float64Array.from([...atZero, ...atZero]));
  });
});
