import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSourceModel } from '@gru-onnx/model';
import { readTensorFile } from '../bundle.ts';
import type { Feeds, NamedTensor } from '../runner.ts';
import { float32Data } from '../tensor.ts';
import { createSourceReferenceRunner, sourceOutputs } from './reference.ts';

const RNNS = fileURLToPath(new URL('../../../../fixtures/pytorch-rnns/', import.meta.url));

/** test_data_set_{index} of a capture: its inputs and PyTorch's outputs, by their stored names. */
function captured(name: string, index: number): { inputs: Feeds; outputs: Record<string, NamedTensor> } {
  const dir = join(RNNS, `${name}.capture`, `test_data_set_${index}`);
  const read = (prefix: string) => Object.fromEntries(readdirSync(dir).filter((f) => f.startsWith(prefix)).map((f) => {
    const { name: n, tensor } = readTensorFile(join(dir, f));
    return [n, tensor];
  }));
  return { inputs: read('input_'), outputs: read('output_') };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (v, i) => Math.abs(v - b[i]!)).reduce((m, d) => Math.max(m, d), 0);

describe("an imported model's reference on every output the graph has", () => {
  const lstm = loadSourceModel(`${RNNS}lstm-bi2-sf.safetensors`, undefined, { head: 'last-step' });
  const rnn = loadSourceModel(`${RNNS}rnn-relu-uni3-bf.safetensors`);

  it('takes x, h0 and c0 by name and gives logits, hidden_states, h_n and c_n in the layouts of the graph, as PyTorch does', async () => {
    const { inputs, outputs } = captured('lstm-bi2-sf', 1);
    const names = ['c_n', 'logits', 'h_n', 'hidden_states'];
    const runner = createSourceReferenceRunner(lstm);
    const r = await runner.run({ model: new Uint8Array(0), feeds: inputs, outputNames: names });
    expect(Object.keys(r.outputs64!)).toEqual(names);
    for (const n of names) {
      expect(r.outputs64![n]!.dims, n).toEqual(outputs[n]!.dims);
      expect(maxAbs(r.outputs64![n]!.data, float32Data(outputs[n]!)), n).toBeLessThan(1e-5);
      expect(r.outputs[n]!.data).toEqual(Float32Array.from(r.outputs64![n]!.data));
    }
  });

  it('one output is the logits whatever its name (a third party\'s file); without h0 the state is zero', () => {
    const { inputs } = captured('lstm-bi2-sf', 1);
    const out = sourceOutputs(lstm, { x: inputs.x! }, ['output'], 'case');
    const zeros = sourceOutputs(lstm, { x: inputs.x!, h0: { dims: [4, 3, 5], data: new Float32Array(60) }, c0: { dims: [4, 3, 5], data: new Float32Array(60) } }, ['logits'], 'case');
    expect(out.output!.dims).toEqual([3, 3]);
    expect(out.output!.data).toEqual(zeros.logits!.data);
    expect(maxAbs(out.output!.data, sourceOutputs(lstm, inputs, ['logits'], 'case').logits!.data)).toBeGreaterThan(1e-3);
  });

  it.each([
    ['an output name no import computes', () => sourceOutputs(lstm, captured('lstm-bi2-sf', 0).inputs, ['logits', 'y'], 'case 3x1'), /^output 'y' is not one a pytorch-lstm model computes \(logits or probabilities, hidden_states, h_n, c_n\)$/],
    ['c_n of a model without LSTM layers', () => sourceOutputs(rnn, { x: captured('lstm-bi2-sf', 0).inputs.x! }, ['logits', 'c_n'], 'case 3x1'), /case 3x1: output 'c_n': a pytorch-rnn model without LSTM layers has no c_n/],
    ['c0 for a model without LSTM layers', () => sourceOutputs(rnn, { x: captured('lstm-bi2-sf', 0).inputs.x!, c0: { dims: [3, 3, 6], data: new Float32Array(54) } }, ['logits'], 'case 3x1'), /case 3x1: input c0 is \[3, 3, 6\], the pytorch-rnn model takes none/],
    ['h0 of the wrong slots', () => sourceOutputs(lstm, { ...captured('lstm-bi2-sf', 0).inputs, h0: { dims: [2, 3, 5], data: new Float32Array(30) } }, ['logits'], 'case 3x1'), /input h0 is \[2, 3, 5\], the pytorch-lstm model takes \[4, 3, 5\]/],
    ['x of the wrong width', () => sourceOutputs(rnn, { x: { dims: [1, 2, 3], data: new Float32Array(6) } }, ['logits'], 'case 1x2'), /input 'x' has 3 features, the model takes 4/],
  ])('refuses %s by name', (_, run, message) => {
    expect(run).toThrow(message);
  });
});
