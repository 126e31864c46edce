import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { loadSourceModel, UserError } from '@gru-onnx/model';
import { checkModel } from '../checker.ts';
import { onnx } from '../proto.ts';
import { exportSourceModel, nodeAttributes, reorderRznToZrh, type OnnxRecurrentLayer } from './index.ts';

const FIXTURES = fileURLToPath(new URL('../../../../fixtures/', import.meta.url));

const attrs = (n: onnx.INodeProto) => Object.fromEntries((n.attribute ?? []).map((a) => [a.name, a]));
const floats = (t: onnx.ITensorProto) => new Float32Array(Uint8Array.from(t.rawData!).buffer);

describe('gate and layout helpers', () => {
  it("reorderRznToZrh moves PyTorch's r, z, n row blocks to ONNX's z, r, h", () => {
    // H = 2, 1 column: rows r0 r1 z0 z1 n0 n1.
    expect([...reorderRznToZrh(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 1)]).toEqual([3, 4, 1, 2, 5, 6]);
  });
});

describe('exportSourceModel', () => {
  const bi = loadSourceModel(`${FIXTURES}pytorch/l2-bi-bf.safetensors`, undefined, { head: 'final-state' });

  it('writes one GRU node per nn.GRU layer, bidirectional, linear_before_reset 1, with B = [b_ih, b_hh] reordered', () => {
    if (bi.kind !== 'pytorch-gru') throw new Error(bi.kind);
    const model = onnx.ModelProto.decode(exportSourceModel(bi, { form: 'fused' }));
    expect(checkModel(model)).toEqual([]);
    const g = model.graph!;
    // The layers sit in the If branch that non-empty x takes.
    const layers = g.node!.find((n) => n.opType === 'If')!.attribute!.find((a) => a.name === 'else_branch')!.g!;
    const grus = layers.node!.filter((n) => n.opType === 'GRU');
    expect(grus.map((n) => [new TextDecoder().decode(attrs(n).direction!.s!), Number(attrs(n).linear_before_reset!.i), Number(attrs(n).hidden_size!.i)])).toEqual([
      ['bidirectional', 1, 7],
      ['bidirectional', 1, 7],
    ]);
    const B1 = layers.initializer!.find((t) => t.name === 'B_l1')!;
    expect(B1.dims!.map(Number)).toEqual([2, 42]);
    const rev = bi.layers[1]!.directions[1]!;
    // Reverse direction, Rb_z: PyTorch's b_hh z block (rows H..2H).
    expect([...floats(B1).subarray(42 + 21, 42 + 28)]).toEqual([...rev.bHh.subarray(7, 14)]);
    expect(g.input!.map((v) => v.name)).toEqual(['x']);
    expect(g.output!.map((v) => v.name)).toEqual(['logits']);
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({ 'gru_onnx.source': 'pytorch-gru', 'gru_onnx.pytorch_batch_first': 'true', 'gru_onnx.x_layout': 'batch_seq_input' });
  });

  // onnxruntime's GRU kernel aborts the process on an empty x; the export must not let it get there.
  it.each([7, 17])('opset %i: seq 0 gives the head of the zero state (fc.bias), batch 0 an empty [0, output]', async (opset) => {
    if (bi.kind !== 'pytorch-gru') throw new Error(bi.kind);
    const s = await ort.InferenceSession.create(exportSourceModel(bi, { opset }));
    const I = bi.inputSize;
    const O = bi.outputSize;
    const seq0 = (await s.run({ x: new ort.Tensor('float32', new Float32Array(0), [2, 0, I]) })).logits!;
    expect(seq0.dims).toEqual([2, O]);
    expect([...(seq0.data as Float32Array)]).toEqual([...bi.fc.bias, ...bi.fc.bias]);
    const batch0 = (await s.run({ x: new ort.Tensor('float32', new Float32Array(0), [0, 3, I]) })).logits!;
    expect(batch0.dims).toEqual([0, O]);
    await s.release();
  });

  it('lists initializers as graph inputs at opset 7 (IR 3) and checks cleanly there', () => {
    const model = onnx.ModelProto.decode(exportSourceModel(bi, { opset: 7 }));
    expect(checkModel(model)).toEqual([]);
    expect(model.graph!.input!.length).toBe(1 + model.graph!.initializer!.length);
  });

  it.each([
    [{ autoBatchThreshold: 8 }, /autoBatchThreshold is only available for the seed model/],
    [{ opset: 6 }, /opset 6 is outside 7–21/],
  ])('refuses %o for an import', (options, message) => {
    expect(() => exportSourceModel(bi, options)).toThrow(UserError);
    expect(() => exportSourceModel(bi, options)).toThrow(message);
  });

  it('passes every other option through to the chain: form, target, hidden_states, h0, h_n, metadata', () => {
    const model = onnx.ModelProto.decode(exportSourceModel(bi, { form: 'scan', target: 'wasm', hiddenStates: true, h0: true, hN: true, metadata: { k: 'v' } }));
    expect(model.graph!.input!.map((v) => v.name)).toEqual(['x', 'h0']);
    expect(model.graph!.output!.map((v) => v.name)).toEqual(['logits', 'hidden_states', 'h_n']);
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({ 'gru_onnx.form': 'scan', 'gru_onnx.target': 'wasm', k: 'v' });
  });

  it('exports the seed through its own exporter, options and all', () => {
    const seed = loadSourceModel(`${FIXTURES}seed-pytorch/model.safetensors`);
    const model = onnx.ModelProto.decode(exportSourceModel(seed, { form: 'scan', hiddenStates: true }));
    expect(model.graph!.output!.map((o) => o.name)).toEqual(['logits', 'hidden_states']);
  });
});

describe('nodeAttributes', () => {
  const layer = (dirs: 1 | 2): OnnxRecurrentLayer => ({
    cell: 'LSTM', inputSize: 1, hiddenSize: 2, dirs, W: new Float32Array(0), R: new Float32Array(0), B: new Float32Array(0),
    activations: { names: ['HardSigmoid', 'Tanh', 'Tanh'], alpha: [0.2], beta: [0.5] },
  });
  it('repeats one direction\'s activations, alpha and beta for the reverse, and writes no linear_before_reset outside GRU', () => {
    const bi = nodeAttributes(layer(2));
    expect(bi.activations).toEqual({ kind: 'strings', value: ['HardSigmoid', 'Tanh', 'Tanh', 'HardSigmoid', 'Tanh', 'Tanh'] });
    expect(bi.activation_alpha).toEqual({ kind: 'floats', value: [0.2, 0.2] });
    expect(bi.activation_beta).toEqual({ kind: 'floats', value: [0.5, 0.5] });
    expect(bi.direction).toEqual({ kind: 'string', value: 'bidirectional' });
    expect(bi.linear_before_reset).toBeUndefined();
    expect(nodeAttributes(layer(1)).activations).toEqual({ kind: 'strings', value: ['HardSigmoid', 'Tanh', 'Tanh'] });
  });
});
