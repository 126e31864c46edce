import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import { assertValidModel, checkModel } from './checker.ts';
import * as ort from 'onnxruntime-node';
import { attr, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.ts';
import { buildSeedModel, buildTunedSeedModel, exportSeedModel } from './export-seed.ts';
import { decodeModel } from './reader.ts';
import { OP_TABLE_OPSET } from './generated/op-schemas.ts';
import { onnx } from './proto.ts';
import { randomSeedParams } from './test-params.ts';

const params = randomSeedParams(3);
/** A fresh decoded copy of a valid fused model, to break by hand. */
// The bare GRU node (no seq-0 guard): a flat graph whose node names the findings below can be matched against.
const fused = (): onnx.ModelProto => buildTunedSeedModel(params, { form: 'fused', h0: true }, { fusedEmptyGuard: false });
const gruNode = (m: onnx.ModelProto) => m.graph!.node!.find((n) => n.opType === 'GRU')!;
const setAttr = (n: onnx.INodeProto, name: string, a: onnx.IAttributeProto) => {
  n.attribute = [...(n.attribute ?? []).filter((x) => x.name !== name), onnx.AttributeProto.create({ name, ...a })];
};
const messages = (m: onnx.IModelProto) => checkModel(m).map((i) => i.message);

describe('checkModel', () => {
  it('passes every export form at every opset 7–21', () => {
    for (const form of ['fused', 'scan', 'auto'] as const) {
      for (let opset = 7; opset <= 21; opset++) {
        expect(checkModel(buildSeedModel(params, { form, opset, h0: true, hiddenStates: true, hN: true })), `${form} ${opset}`).toEqual([]);
      }
    }
  });

  it('rejects a duplicate node name and a value defined twice', () => {
    const m = fused();
    const [a, b] = m.graph!.node!;
    b!.name = a!.name;
    expect(messages(m)).toContainEqual(expect.stringMatching(new RegExp(`node '${a!.name}' \\(Reshape\\) in graph 'seed_gru_fused': node name '${a!.name}' is used by another node`)));
    const m2 = fused();
    m2.graph!.node![1]!.output = [...m2.graph!.node![0]!.output!];
    expect(messages(m2)).toContainEqual(expect.stringMatching(/output of node '.*' \(.*\) 'x_seq_major' reuses a name already defined/));
  });

  it('rejects an input used before the node that defines it (topological order)', () => {
    const m = fused();
    const i = m.graph!.node!.findIndex((n) => n.opType === 'GRU');
    const [gru] = m.graph!.node!.splice(i, 1);
    m.graph!.node!.unshift(gru!);
    expect(messages(m)[0]).toMatch(/node 'GRU_gru_Y_h' \(GRU\) in graph 'seed_gru_fused': input 'x_seq_major' is not defined before this node/);
  });

  it('checks subgraph scopes: a Scan body sees outer names, not names defined later', () => {
    const m = decodeModel(exportSeedModel(params, { form: 'scan' }));
    const ifNode = m.graph!.node!.find((n) => n.opType === 'If')!;
    const steps = ifNode.attribute!.find((a) => a.name === 'else_branch')!.g!;
    const scan = steps.node!.find((n) => n.opType === 'Scan')!;
    const body = scan.attribute!.find((a) => a.name === 'body')!.g!;
    expect(checkModel(m)).toEqual([]);
    body.node![0]!.input = ['h_prev', 'logits'];
    expect(messages(m)).toContainEqual(expect.stringMatching(/node 'body_MatMul_h_W_hz' \(MatMul\) in graph 'gru_step': input 'logits' is not defined before this node/));
  });

  // onnxruntime refuses these; they used to pass the checker and come back as a backend error (exit 1, not 2).
  it("rejects an op the imported opset does not have yet, and a name that is not an ai.onnx op; newer opsets' names pass", () => {
    const scan9 = decodeModel(exportSeedModel(params, { form: 'scan', opset: 9 }));
    expect(checkModel(scan9)).toEqual([]);
    scan9.opsetImport = [{ domain: '', version: 7 }];
    expect(messages(scan9)).toContainEqual(expect.stringMatching(/\(Scan\) in graph '.*': 'Scan' needs ai\.onnx opset 8 or later; the model imports opset 7/));
    const m = fused();
    gruNode(m).opType = 'Gru';
    expect(messages(m)).toContainEqual("node 'GRU_gru_Y_h' (Gru) in graph 'seed_gru_fused': 'Gru' is not an ai.onnx operator at opset 17");
    // Past the table (opsets up to OP_TABLE_OPSET, 21) a name may be an op added since: not refused.
    const later = fused();
    later.opsetImport = [{ domain: '', version: OP_TABLE_OPSET + 1 }];
    gruNode(later).opType = 'Gru';
    expect(messages(later).filter((msg) => msg.includes('operator'))).toEqual([]);
  });

  // onnxruntime runs onnx's schema verification on load ("Unrecognized attribute: perm for operator Loop", found
  // by the fuzzer as a backend error): the checker refuses the same models first, with the node named.
  it('rejects an attribute the op does not have, one of the wrong type, and a missing required one', () => {
    const where = "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused'";
    const unknown = fused();
    setAttr(gruNode(unknown), 'perm', { type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] });
    expect(messages(unknown)).toEqual([
      `${where}: 'GRU' at opset 17 has no attribute 'perm' (it has activation_alpha, activation_beta, activations, clip, direction, hidden_size, layout, linear_before_reset)`,
    ]);
    // layout came with GRU-14: at opset 13 it is an unknown attribute, not only an unsupported value.
    const early = buildTunedSeedModel(params, { form: 'fused', opset: 13 }, { fusedEmptyGuard: false });
    setAttr(gruNode(early), 'layout', { type: onnx.AttributeProto.AttributeType.INT, i: 0 });
    expect(messages(early)).toContainEqual(expect.stringMatching(/'GRU' at opset 13 has no attribute 'layout'/));
    const typed = fused();
    setAttr(gruNode(typed), 'hidden_size', { type: onnx.AttributeProto.AttributeType.FLOAT, f: 16 });
    expect(messages(typed)).toContainEqual(`${where}: attribute 'hidden_size' is FLOAT, but 'GRU' takes INT`);
    const m = decodeModel(exportSeedModel(params, { form: 'fused' }));
    const guard = m.graph!.node!.find((n) => n.opType === 'If')!;
    guard.attribute = guard.attribute!.filter((a) => a.name !== 'else_branch');
    expect(messages(m)).toContainEqual(expect.stringMatching(/\(If\) in graph 'seed_gru_fused': 'If' needs attribute 'else_branch'$/));
  });

  // Opsets 18–21 changed attributes of ops the fuzzer and imports write: the checks apply there too (the table
  // comes from onnx 1.16's operator changelog, which adds those opsets to onnx 1.12's).
  it.each([
    // [op, opset, attributes, inputs, the message, or undefined when valid]
    ['ReduceMean', 17, { axes: attr.ints([1]) }, ['x'], undefined],
    ['ReduceMean', 18, { axes: attr.ints([1]) }, ['x'], "'ReduceMean' at opset 18 has no attribute 'axes' (it has keepdims, noop_with_empty_axes)"],
    ['ReduceMean', 18, { noop_with_empty_axes: attr.int(1) }, ['x'], undefined],
    ['Split', 17, { num_outputs: attr.int(1) }, ['x'], "'Split' at opset 17 has no attribute 'num_outputs' (it has axis)"],
    ['Split', 18, { num_outputs: attr.int(1) }, ['x'], undefined],
    ['Resize', 17, { antialias: attr.int(1) }, ['x', '', 'scales'], "'Resize' at opset 17 has no attribute 'antialias'"],
    ['Resize', 19, { antialias: attr.int(1) }, ['x', '', 'scales'], undefined],
    ['Col2Im', 17, {}, ['x', 'shape', 'shape'], "'Col2Im' needs ai.onnx opset 18 or later; the model imports opset 17"],
    ['Cast', 19, { to: attr.int(1), saturate: attr.float(1) }, ['x'], "attribute 'saturate' is FLOAT, but 'Cast' takes INT"],
    ['GroupNormalization', 18, { num_groups: attr.int(1), stash_type: attr.int(1) }, ['x', 'scale', 'scale'], "'GroupNormalization' at opset 18 has no attribute 'stash_type'"],
    ['GroupNormalization', 21, { stash_type: attr.int(1) }, ['x', 'scale', 'scale'], "'GroupNormalization' needs attribute 'num_groups'"],
    ['DequantizeLinear', 21, { block_size: attr.int(2) }, ['x', 'scale'], undefined],
  ] as const)('%s at opset %i: %o', (op, opset, attributes, inputs, message: string | undefined) => {
    const init = [makeTensor('scales', 'float32', [2], [1, 1]), makeTensor('shape', 'int64', [2], [1, 1]), makeTensor('scale', 'float32', [1], [1])];
    const g = makeGraph({
      name: 'g',
      nodes: [makeNode(op, inputs, ['y'], attributes, { name: 'n' })],
      inputs: [makeValueInfo('x', 'float32', [1, 2])],
      outputs: [makeValueInfo('y', 'float32', undefined)],
      initializers: init.filter((t) => inputs.includes(t.name as never)),
    });
    const found = messages(makeModel(g, { opset })).filter((m) => m.startsWith("node 'n'"));
    expect(found).toEqual(message === undefined ? [] : [expect.stringContaining(message)]);
  });

  it('rejects an initializer whose dims do not match its data', () => {
    const m = fused();
    const w = m.graph!.initializer!.find((t) => t.name === 'fc_bias')!;
    w.dims = [5];
    expect(messages(m)).toContain("initializer 'fc_bias' in graph 'seed_gru_fused': dims [5] need 5 values but its data holds 4");
  });

  it('rejects graph inputs and outputs without a declared type', () => {
    const m = fused();
    m.graph!.input![0]!.type = null;
    m.graph!.output![0]!.type = null;
    expect(messages(m)).toEqual([
      "input 'x' of graph 'seed_gru_fused': has no declared type",
      "output 'logits' of graph 'seed_gru_fused': has no declared type",
    ]);
  });

  // Found by the fuzzer as a backend error: onnxruntime refuses a subgraph output that is an enclosing graph's
  // input or initializer; one of the subgraph's own initializers is fine.
  it("rejects a subgraph that returns the enclosing graph's value as it is", async () => {
    const model = (thenOut: string, thenInits: onnx.TensorProto[]) => {
      const branch = (name: string, out: string, inits: onnx.TensorProto[]) =>
        makeGraph({ name, nodes: [], inputs: [], outputs: [makeValueInfo(out, 'float32', undefined)], initializers: inits });
      const g = makeGraph({
        name: 'g',
        nodes: [
          makeNode('Greater', ['x', 'zero'], ['cond']),
          makeNode('If', ['cond'], ['y'], { then_branch: attr.graph(branch('t', thenOut, thenInits)), else_branch: attr.graph(branch('e', 'two', [makeTensor('two', 'float32', [1], [2])])) }),
        ],
        inputs: [makeValueInfo('x', 'float32', [1])],
        outputs: [makeValueInfo('y', 'float32', undefined)],
        initializers: [makeTensor('zero', 'float32', [1], [0])],
      });
      return makeModel(g, { opset: 17 });
    };
    const returned = "is the enclosing graph's value returned as it is, which onnxruntime refuses (an Identity node in between fixes it)";
    expect(messages(model('x', []))).toEqual([`output 'x' of graph 't': ${returned}`]);
    expect(messages(model('zero', []))).toEqual([`output 'zero' of graph 't': ${returned}`]);
    expect(messages(model('one', [makeTensor('one', 'float32', [1], [1])]))).toEqual([]);
    // What the rule stands for: onnxruntime's own verdicts on the same files.
    await expect(ort.InferenceSession.create(encodeModel(model('x', [])))).rejects.toThrow(/Subgraph output \(x\) is an outer scope value/);
    const s = await ort.InferenceSession.create(encodeModel(model('one', [makeTensor('one', 'float32', [1], [1])])));
    expect((await s.run({ x: new ort.Tensor('float32', [1], [1]) })).y!.data).toEqual(new Float32Array([1]));
    await s.release();
  });

  it('rejects a model without an opset import for the default domain', () => {
    const m = fused();
    m.opsetImport = [onnx.OperatorSetIdProto.create({ domain: 'com.example', version: 1 })];
    expect(messages(m)[0]).toBe("no opset import for the default ONNX domain ''");
  });

  it('rejects a GRU whose hidden_size does not match W, R and B', () => {
    const m = fused();
    setAttr(gruNode(m), 'hidden_size', { type: onnx.AttributeProto.AttributeType.INT, i: 8 });
    expect(messages(m)).toEqual([
      "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': W 'gru_W' has shape [1, 48, 8], expected [1, 24, 8] for forward hidden_size 8",
      "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': R 'gru_R' has shape [1, 48, 16], expected [1, 24, 8] for forward hidden_size 8",
      "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': B 'gru_B' has shape [1, 96], expected [1, 48] for forward hidden_size 8",
    ]);
  });

  it('rejects a bad direction, and a direction whose num_directions does not match W', () => {
    const m = fused();
    setAttr(gruNode(m), 'direction', { type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode('sideways') });
    expect(messages(m)[0]).toBe("node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': direction 'sideways' is not forward, reverse or bidirectional");
    const m2 = fused();
    setAttr(gruNode(m2), 'direction', { type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode('bidirectional') });
    expect(messages(m2)[0]).toMatch(/W 'gru_W' has shape \[1, 48, 8\], expected \[2, 48, 8\] for bidirectional/);
  });

  it('rejects linear_before_reset other than 0 or 1, a wrong activations count, and layout before opset 14', () => {
    const m = fused();
    setAttr(gruNode(m), 'linear_before_reset', { type: onnx.AttributeProto.AttributeType.INT, i: 2 });
    setAttr(gruNode(m), 'activations', { type: onnx.AttributeProto.AttributeType.STRINGS, strings: [new TextEncoder().encode('Sigmoid')] });
    setAttr(gruNode(m), 'layout', { type: onnx.AttributeProto.AttributeType.INT, i: 1 });
    expect(messages(m)).toEqual(
      expect.arrayContaining([
        "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': linear_before_reset 2 is not 0 or 1",
        "node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': activations lists 1 functions, expected 2 (2 per direction, forward)",
      ]),
    );
    expect(checkModel(decodeModel(exportSeedModel(params, { form: 'fused', opset: 13 })))).toEqual([]);
  });

  it('rejects a W of the wrong shape, and an X whose input size disagrees with W', () => {
    const m = fused();
    const i = m.graph!.initializer!.findIndex((t) => t.name === 'gru_W');
    m.graph!.initializer![i] = makeTensor('gru_W', 'float32', [1, 47, 8], new Float32Array(47 * 8));
    expect(messages(m)).toEqual(["node 'GRU_gru_Y_h' (GRU) in graph 'seed_gru_fused': W 'gru_W' has shape [1, 47, 8], expected [1, 48, 8] for forward hidden_size 16"]);
    const g = makeGraph({
      name: 'g',
      nodes: [makeNode('GRU', ['X', 'W', 'R'], ['', 'Y_h'], { hidden_size: attr.int(2) }, { name: 'gru' })],
      inputs: [makeValueInfo('X', 'float32', ['seq', 'batch', 5])],
      outputs: [makeValueInfo('Y_h', 'float32', [1, 'batch', 2])],
      initializers: [makeTensor('W', 'float32', [1, 6, 3], new Float32Array(18)), makeTensor('R', 'float32', [1, 6, 2], new Float32Array(12))],
    });
    expect(messages(makeModel(g, { opset: 17 }))).toEqual(["node 'gru' (GRU) in graph 'g': X 'X' has input size 5 but W 'W' expects 3"]);
  });

  it('assertValidModel throws one line naming the first issue and how many more', () => {
    const m = fused();
    m.graph!.input![0]!.type = null;
    m.graph!.output![0]!.type = null;
    let err: unknown;
    try {
      assertValidModel(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe("invalid ONNX model: input 'x' of graph 'seed_gru_fused': has no declared type (and 1 more)");
    expect(() => assertValidModel(fused())).not.toThrow();
  });
});
