import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSourceModel } from '@gru-onnx/model';
import { pytorchLstmChain, PYTORCH_LSTM_TO_ONNX } from './pytorch-lstm.ts';
import { pytorchRnnChain } from './pytorch-rnn.ts';
import { reorderGateBlocks } from './pytorch-chain.ts';

const RNNS = fileURLToPath(new URL('../../../../fixtures/pytorch-rnns/', import.meta.url));

describe('PyTorch → ONNX-layout mappings (the numbers are checked end to end against PyTorch in test/pytorch-rnns.test.ts)', () => {
  it("reorderGateBlocks moves PyTorch's LSTM blocks i, f, g, o to ONNX's i, o, f, c", () => {
    // H = 1, 2 columns: rows i f g o.
    expect([...reorderGateBlocks(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), 1, 2, PYTORCH_LSTM_TO_ONNX)]).toEqual([1, 2, 7, 8, 3, 4, 5, 6]);
    expect(() => reorderGateBlocks(new Float32Array(6), 1, 2, PYTORCH_LSTM_TO_ONNX)).toThrow(/6 values are not 4 blocks of 1×2/);
  });

  it('an nn.LSTM: one LSTM layer per PyTorch layer, B = [b_ih, b_hh] reordered, ONNX default activations', () => {
    const m = loadSourceModel(`${RNNS}lstm-bi2-sf.safetensors`, undefined, { head: 'last-step' });
    if (m.kind !== 'pytorch-lstm') throw new Error(m.kind);
    const c = pytorchLstmChain(m);
    expect(c.layers.map((l) => [l.cell, l.dirs, l.inputSize, l.hiddenSize, l.activations])).toEqual([['LSTM', 2, 4, 5, undefined], ['LSTM', 2, 10, 5, undefined]]);
    const H = 5;
    const rev = m.layers[1]!.directions[1]!;
    // Reverse direction of layer 1: Rb's o block (ONNX's second) is PyTorch's b_hh o block (its fourth).
    expect([...c.layers[1]!.B.subarray(8 * H + 4 * H + H, 8 * H + 4 * H + 2 * H)]).toEqual([...rev.bHh.subarray(3 * H, 4 * H)]);
    expect(c.metadata).toMatchObject({ 'gru_onnx.source': 'pytorch-lstm', 'gru_onnx.head': 'last-step', 'gru_onnx.pytorch_batch_first': 'false' });
    expect(c.head.transB).toBe(true);
  });

  it.each([['rnn-relu-bi2-bf', 'Relu'], ['rnn-tanh-uni2-bf', 'Tanh']])('%s: RNN layers with activation %s, recorded in the metadata', (name, act) => {
    const m = loadSourceModel(`${RNNS}${name}.safetensors`, undefined, { head: 'last-step' });
    if (m.kind !== 'pytorch-rnn') throw new Error(m.kind);
    const c = pytorchRnnChain(m);
    expect(c.layers.every((l) => l.cell === 'RNN' && l.activations?.names.join() === act)).toBe(true);
    expect(c.metadata['gru_onnx.nonlinearity']).toBe(m.nonlinearity);
    expect([...c.layers[0]!.B.subarray(m.hiddenSize, 2 * m.hiddenSize)]).toEqual([...m.layers[0]!.directions[0]!.bHh]);
  });
});
