/**
 * PyTorch nn.LSTM and nn.RNN (tanh, relu) imports checked against PyTorch itself (fixtures/pytorch-rnns, made by
 * tools/fixtures/make_pytorch_rnns.py with python/gru_onnx_torch.py): the float64 reference on every output
 * (logits, out, h_n, c_n) from given initial states, at seq 1, 10, 37, 200 and batch 0.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSourceModel, sourceForward, sourceStateSizes, type PytorchHead, type SourceModel } from '@gru-onnx/model';
import { float32Data, readTensorFile, type NamedTensor } from '@gru-onnx/verify';
import { FIXTURES } from './imports-helpers.ts';

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
];
/** The bar: within 1e-5 of PyTorch's own outputs. */
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
    expect(m.kind).toBe(name.startsWith('lstm') ? 'pytorch-lstm' : 'pytorch-rnn');
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
