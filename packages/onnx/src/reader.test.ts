import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { encodeSafetensors, UserError } from '@gru-onnx/model';
import { attr, encodeModel, irVersionForOpset, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.ts';
import { exportSeedModel } from './export-seed.ts';
import { decodeModel, MODEL_SUMMARY_SCHEMA, readModelFile, summarizeModel } from './reader.ts';
import { onnx } from './proto.ts';
import { randomSeedParams } from './test-params.ts';

const params = randomSeedParams(4);

describe('builder', () => {
  it('follows onnx IR version table: 7,8→3, 9→4, 10→5, 11→6, 12–14→7, 15–18→8, 19–20→9, 21→10', () => {
    const table = Array.from({ length: 15 }, (_, i) => irVersionForOpset(i + 7));
    expect(table).toEqual([3, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 10]);
    expect(() => irVersionForOpset(22)).toThrow(UserError);
  });

  it('emits attributes in sorted order and leaves unset fields out', () => {
    const n = makeNode('Gemm', ['a', 'b'], ['c'], { transB: attr.int(1), alpha: attr.float(2) });
    expect(n.attribute.map((a) => a.name)).toEqual(['alpha', 'transB']);
    // input "a", output "b", op_type "Relu": 3 + 3 + 6 bytes and nothing else (no name, domain or doc string).
    expect(onnx.NodeProto.encode(makeNode('Relu', ['a'], ['b'])).finish().length).toBe(12);
  });

  it('makes float32, int64 and int32 tensors as little-endian raw data and checks the value count', () => {
    expect([...makeTensor('f', 'float32', [2], [1, -2]).rawData]).toEqual([0, 0, 128, 63, 0, 0, 0, 192]);
    expect([...makeTensor('i', 'int64', [1], [-1]).rawData]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(makeTensor('j', 'int32', [2, 1], [7, 8]).dataType).toBe(onnx.TensorProto.DataType.INT32);
    expect(() => makeTensor('k', 'float32', [2, 2], [1, 2, 3])).toThrow('tensor k: 3 values for dims [2, 2]');
    expect(() => makeTensor('l', 'int64', [1], [0.5])).toThrow(UserError);
  });

  it('keeps symbolic dimensions as names and gives deterministic bytes', () => {
    const v = makeValueInfo('x', 'float32', ['batch', 3]);
    expect(v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 3]);
    const build = () =>
      encodeModel(
        makeModel(
          makeGraph({ name: 'g', nodes: [makeNode('Relu', ['x'], ['y'])], inputs: [v], outputs: [makeValueInfo('y', 'float32', ['batch', 3])] }),
          { opset: 13, metadata: { b: '2', a: '1' }, docString: 'd' },
        ),
      );
    expect(Buffer.from(build()).equals(Buffer.from(build()))).toBe(true);
    expect(decodeModel(build()).metadataProps.map((p) => p.key)).toEqual(['a', 'b']);
  });
});

describe('summarizeModel', () => {
  it('summarizes a scan export: IR, opsets, symbolic dims, node counts inside subgraphs, initializers, metadata', () => {
    const s = summarizeModel(exportSeedModel(params, { form: 'scan', opset: 7, h0: true, hiddenStates: true, metadata: { k: 'v' } }));
    expect(s.irVersion).toBe(3);
    expect(s.opsetImports).toEqual([{ domain: '', version: 7 }]);
    // IR 3 lists initializers among the graph inputs; the summary shows only the real ones.
    expect(s.inputs).toEqual([
      { name: 'x', elemType: 'FLOAT', dims: ['batch', 'seq', 8] },
      { name: 'h0', elemType: 'FLOAT', dims: ['batch', 16] },
    ]);
    expect(s.outputs.map((o) => [o.name, o.dims])).toEqual([
      ['logits', ['batch', 4]],
      ['hidden_states', ['batch', 'seq', 16]],
    ]);
    expect(s.nodeCounts.Loop).toBe(1);
    expect(s.nodeCounts.Sigmoid).toBe(2); // z and r, inside the Loop body inside the If
    expect(s.nodeCount).toBe(Object.values(s.nodeCounts).reduce((a, b) => a + b, 0));
    expect(s.initializers.find((t) => t.name === 'scan_W_hz_T')).toEqual({ name: 'scan_W_hz_T', elemType: 'FLOAT', dims: [16, 16], size: 256 });
    expect(s.metadata).toEqual({ k: 'v', 'gru_onnx.form': 'scan', 'gru_onnx.target': 'cpu' });
  });

  it('counts the fused form parameters: W, R, B (with its zero recurrent biases), fc, and the seq-0 branch h_0 = 0', () => {
    expect(summarizeModel(exportSeedModel(params, { form: 'fused' })).parameterCount).toBe(48 * 8 + 48 * 16 + 96 + 4 * 16 + 4 + 16);
    expect(summarizeModel(exportSeedModel(params, { form: 'fused', h0: true })).parameterCount).toBe(48 * 8 + 48 * 16 + 96 + 4 * 16 + 4);
  });

  it("reads the PyTorch exporter's fixture: 237 nodes at opset 14", () => {
    const s = summarizeModel(readModelFile(new URL('../../../fixtures/pytorch-export/model.onnx', import.meta.url).pathname));
    expect(s.nodeCount).toBe(237);
    expect(s.opsetImports).toEqual([{ domain: '', version: 14 }]);
    expect(s.producerName).toBe('pytorch');
  });

  it('validates against the exported JSON schema, which rejects a malformed summary', () => {
    const validate = new Ajv({ strict: true }).compile(MODEL_SUMMARY_SCHEMA);
    const s = JSON.parse(JSON.stringify(summarizeModel(exportSeedModel(params)))) as Record<string, unknown>;
    expect(validate(s), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...s, irVersion: 'eight' })).toBe(false);
  });

  it('names initializers, node counts and parameters the way a reader needs them', () => {
    const F = onnx.TensorProto.DataType;
    const t = (name: string, dataType: number, dims: number[]) => ({ name, dataType, dims });
    const model = {
      irVersion: 8,
      producerName: 'p',
      producerVersion: '1.2',
      docString: 'doc',
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        node: [
          { opType: 'Relu', domain: '' },
          { opType: 'FusedGemm', domain: 'com.microsoft' },
          { opType: 'Add', domain: 'ai.onnx' },
          { opType: 'Add' },
        ],
        initializer: [t('f64', F.DOUBLE, [2]), t('f16', F.FLOAT16, [3]), t('bf16', F.BFLOAT16, [4]), t('i64', F.INT64, [5]), t('odd', 99, [1])],
        input: [{ name: 'x', type: { tensorType: { elemType: F.FLOAT } } }],
      },
    };
    const s = summarizeModel(model);
    expect(Object.keys(s.nodeCounts)).toEqual(['Add', 'Relu', 'com.microsoft.FusedGemm']);
    expect(s.nodeCounts.Add).toBe(2);
    expect(s.parameterCount).toBe(2 + 3 + 4);
    expect(s.initializers.map((i) => i.elemType)).toEqual(['DOUBLE', 'FLOAT16', 'BFLOAT16', 'INT64', 'TYPE_99']);
    expect(s.inputs).toEqual([{ name: 'x', elemType: 'FLOAT', dims: null }]);
    expect([s.producerName, s.producerVersion, s.docString]).toEqual(['p', '1.2', 'doc']);
    expect(s.opsetImports).toEqual([{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
  });

  // Counted by hand: only ai.onnx Constant nodes whose `value` tensor is a float type, subgraphs included.
  it('counts the float tensors held in Constant nodes, and no other constant', () => {
    const constant = (dataType: number, dims: number[] | undefined, extra: Partial<onnx.INodeProto> = {}, name = 'value'): onnx.INodeProto => ({
      opType: 'Constant',
      attribute: [{ name, t: { dataType, ...(dims ? { dims } : {}) } }],
      ...extra,
    });
    const { FLOAT, FLOAT16, DOUBLE, BFLOAT16, INT64 } = onnx.TensorProto.DataType;
    const s = summarizeModel({
      graph: {
        initializer: [{ name: 'w', dataType: FLOAT, dims: [3] }],
        node: [
          constant(FLOAT, [2, 3]), // 6
          constant(FLOAT16, [4], { domain: 'ai.onnx' }), // 4
          constant(DOUBLE, undefined), // a scalar: 1
          constant(INT64, [5]), // not a float
          constant(FLOAT, [7], { domain: 'com.x' }), // another domain's Constant
          constant(FLOAT, [8], {}, 'sparse_value'), // not the `value` attribute
          { ...constant(FLOAT, [9]), opType: 'Identity' },
          { opType: 'Constant', attribute: [{ name: 'value_float', f: 1 }] },
          { opType: 'Constant' }, // no attributes at all (a caller's message may leave them out)
          { opType: 'If', attribute: [{ name: 'then_branch', g: { node: [constant(BFLOAT16, [2])] } }] }, // 2, in a subgraph
        ],
      },
    });
    expect([s.constantNodes, s.constantParameterCount, s.parameterCount]).toEqual([4, 6 + 4 + 1 + 2, 3 + 13]);
  });

  it('summarizes a message with every optional field left out (as a caller may build one), with empty names, not undefined', () => {
    expect(summarizeModel({})).toEqual({
      irVersion: 0, producerName: '', producerVersion: '', docString: '', opsetImports: [], inputs: [], outputs: [],
      nodeCount: 0, nodeCounts: {}, initializers: [], parameterCount: 0, constantNodes: 0, constantParameterCount: 0, metadata: {},
    });
    const bare = summarizeModel({
      opsetImport: [{}],
      metadataProps: [{}],
      graph: { node: [{}, { domain: 'com.x' }], initializer: [{}], input: [{}, { name: 'y', type: { tensorType: { shape: { dim: [{}] } } } }], output: [{}] },
    });
    expect(bare).toMatchObject({
      opsetImports: [{ domain: '', version: 0 }],
      metadata: { '': '' },
      nodeCounts: { '': 1, 'com.x.': 1 },
      initializers: [{ name: '', elemType: 'UNDEFINED', dims: [], size: 1 }],
      inputs: [{ name: 'y', elemType: 'UNDEFINED', dims: [null] }],
      outputs: [{ name: '', elemType: 'UNDEFINED', dims: null }],
    });
  });

  it('keeps an unnamed input of a graph without initializers, and reads a non-tensor type as UNDEFINED', () => {
    const s = summarizeModel({ graph: { input: [{}, { name: 's', type: { sequenceType: {} } }] } });
    expect(s.inputs).toEqual([
      { name: '', elemType: 'UNDEFINED', dims: null },
      { name: 's', elemType: 'UNDEFINED', dims: null },
    ]);
  });

  it('sorts node counts by op name whatever order the nodes come in', () => {
    const ops = ['Tanh', 'Sub', 'Relu', 'Mul', 'Gemm', 'Add'];
    expect(Object.keys(summarizeModel({ graph: { node: ops.map((opType) => ({ opType })) } }).nodeCounts)).toEqual([...ops].sort());
  });

  it('names a safetensors file passed as a model, and only that layout', () => {
    const st = encodeSafetensors([['w', { shape: [1], data: Float32Array.of(1) }]]);
    const said = 'is a safetensors checkpoint, not an ONNX model';
    expect(() => decodeModel(st, 'w.safetensors')).toThrow(new UserError(`w.safetensors ${said}; pass it as --weights (and to export --weights to make the ONNX model)`));
    const near = (change: (b: Uint8Array) => void) => {
      const b = Uint8Array.from(st);
      change(b);
      return () => decodeModel(b, 'm');
    };
    expect(near((b) => (b[8] = 0x20))).not.toThrow(said); // no '{' where the JSON starts
    expect(near((b) => (b[9] = 0x20))).not.toThrow(said); // '{' not followed by '"'
    expect(near((b) => (b[5] = 1))).not.toThrow(said); // a header length over 2^32: not one
    expect(near((b) => (b[7] = 1))).not.toThrow(said);
    expect(() => decodeModel(st.subarray(0, 10), 'm')).toThrow(said);
  });

  it('turns malformed bytes and unreadable files into one-line UserErrors', () => {
    expect(() => summarizeModel(new Uint8Array([0x0a, 0xff, 0xff, 0xff]))).toThrow(new UserError('model is not a valid ONNX model: index out of range: 4 + 1 > 4'));
    expect(() => decodeModel(new Uint8Array([1, 2, 3]), 'junk.onnx')).toThrow(new UserError('junk.onnx is not a valid ONNX model: illegal tag: field number 0'));
    expect(() => decodeModel(new Uint8Array(0))).toThrow(/no graph or ir_version/);
    // Either one missing is enough.
    expect(() => decodeModel(onnx.ModelProto.encode({ irVersion: 8 }).finish(), 'm')).toThrow('m is not a valid ONNX model: no graph or ir_version');
    expect(() => decodeModel(onnx.ModelProto.encode({ graph: { name: 'g' } }).finish(), 'm')).toThrow('m is not a valid ONNX model: no graph or ir_version');
    expect(() => readModelFile('/nonexistent/m.onnx')).toThrow(new UserError('/nonexistent/m.onnx: cannot read ONNX model (ENOENT)'));
  });
});

describe('parameter counts include Constant nodes', () => {
  /** Per fixture model, float values in initializers and in Constant nodes, counted by onnx (tools/fixtures/any-models.py). */
  const counts = JSON.parse(readFileSync(new URL('../../../fixtures/any-models/inspect-counts.json', import.meta.url), 'utf8')) as Record<string, { initializerFloats: number; constantFloats: number; constantNodes: number }>;
  it.each(Object.keys(counts))('%s: as onnx counts them, subgraphs included', (name) => {
    const s = summarizeModel(readModelFile(fileURLToPath(new URL(`../../../fixtures/any-models/${name}.onnx`, import.meta.url))));
    const c = counts[name]!;
    expect([s.parameterCount, s.constantParameterCount, s.constantNodes]).toEqual([c.initializerFloats + c.constantFloats, c.constantFloats, c.constantNodes]);
  });
});
