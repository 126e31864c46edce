/** fixtures/pytorch-rnns (tools/fixtures/make_pytorch_rnns.py): the models, and reading their captures. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadSourceModel, type PytorchHead, type SourceModel } from '@gru-onnx/model';
import { readTensorFile, type NamedTensor } from '@gru-onnx/verify';
import { FIXTURES } from './imports-helpers.ts';

export const RNNS = `${FIXTURES}pytorch-rnns/`;
/** name → the --head its forward() needs (undefined: none needed, unidirectional final-state). */
export const MODELS: [string, PytorchHead | undefined][] = [
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
/** The bar: within 1e-5 of PyTorch's own outputs. */
export const TIGHT = 1e-5;

export function load(name: string, head: PytorchHead | undefined): SourceModel {
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

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


/** Every optional graph input and output: h0 (c0), hidden_states, h_n (c_n). */
export const ALL_IO = { h0: true, hN: true, hiddenStates: true } as const;
