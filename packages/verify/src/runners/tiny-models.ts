import { onnx } from '@gru-onnx/onnx';
import { configFromParams } from '@gru-onnx/model';
import type { ParamName, SeedParams } from '@gru-onnx/model';

/**
 * Tiny ONNX models for the runners' own tests, built directly with the generated protobuf classes so these
 * tests need no exporter. Not the exporter: it covers only the fused-GRU form the runners must execute.
 */

/** Seeded parameters with PyTorch's shapes and nn.Linear's initialisation. */
export { randomParams } from '@gru-onnx/model';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function initializer(name: string, dims: number[], data: Float32Array): onnx.TensorProto.$Properties {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

function perm(p: number[]): onnx.AttributeProto.$Properties {
  return { name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: p };
}

function valueInfo(name: string, dims: (number | string)[]): onnx.ValueInfoProto.$Properties {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * The seed model as one ONNX GRU node (layout 1, batch-first) plus the fc head: inputs `x` [B, T, I];
 * outputs `logits` [B, O], `hidden_states` [B, T, H], `h_n` [B, H]. The seed's z is ONNX's 1 − z, so the z
 * rows of W, R and Wb are negated (docs/architecture.md).
 */
export function seedGruModel(p: SeedParams): Uint8Array {
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(p);
  const d = (n: ParamName) => p[n].data;
  const neg = (a: Float32Array) => a.map((v) => -v);
  const W = new Float32Array(3 * H * I);
  W.set(neg(d('gru.W_xz.weight')), 0);
  W.set(d('gru.W_xr.weight'), H * I);
  W.set(d('gru.W_xh.weight'), 2 * H * I);
  const R = new Float32Array(3 * H * H);
  R.set(neg(d('gru.W_hz.weight')), 0);
  R.set(d('gru.W_hr.weight'), H * H);
  R.set(d('gru.W_hh.weight'), 2 * H * H);
  const B = new Float32Array(6 * H);
  B.set(neg(d('gru.W_xz.bias')), 0);
  B.set(d('gru.W_xr.bias'), H);
  B.set(d('gru.W_xh.bias'), 2 * H);
  const fcT = new Float32Array(H * O);
  for (let o = 0; o < O; o++) for (let j = 0; j < H; j++) fcT[j * O + o] = d('fc.weight')[o * H + j]!;
  const graph: onnx.GraphProto.$Properties = {
    name: 'seed_gru',
    node: [
      // onnxruntime's CPU GRU supports only layout 0 (time-major): y is [T, dirs, B, H], h_n [dirs, B, H].
      { name: 'to_time_major', opType: 'Transpose', input: ['x'], output: ['x_tbi'], attribute: [perm([1, 0, 2])] },
      {
        name: 'gru',
        opType: 'GRU',
        input: ['x_tbi', 'W', 'R', 'B'],
        output: ['y', 'h_n'],
        attribute: [{ name: 'hidden_size', type: onnx.AttributeProto.AttributeType.INT, i: H }],
      },
      { name: 'squeeze_y', opType: 'Squeeze', input: ['y', 'axis1'], output: ['y_tbh'] },
      { name: 'to_batch_major', opType: 'Transpose', input: ['y_tbh'], output: ['hidden_states'], attribute: [perm([1, 0, 2])] },
      { name: 'squeeze_h', opType: 'Squeeze', input: ['h_n', 'axis0'], output: ['h_n_2d'] },
      { name: 'head', opType: 'Gemm', input: ['h_n_2d', 'fcT', 'fcb'], output: ['logits'] },
      { name: 'identity_h', opType: 'Identity', input: ['h_n_2d'], output: ['h_n_out'] },
    ],
    initializer: [
      initializer('W', [1, 3 * H, I], W),
      initializer('R', [1, 3 * H, H], R),
      initializer('B', [1, 6 * H], B),
      initializer('fcT', [H, O], fcT),
      initializer('fcb', [O], d('fc.bias')),
      { name: 'axis1', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] },
      { name: 'axis0', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [0] },
    ],
    input: [valueInfo('x', ['batch', 'seq', I])],
    output: [valueInfo('logits', ['batch', O]), valueInfo('hidden_states', ['batch', 'seq', H]), valueInfo('h_n_out', ['batch', H])],
  };
  return encodeModel(graph);
}

function encodeModel(graph: onnx.GraphProto.$Properties): Uint8Array {
  const model: onnx.ModelProto.$Properties = {
    irVersion: 8,
    producerName: 'gru-onnx-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  };
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A tanh RNN as a Scan whose body holds two MatMuls, h_t = tanh(x_t·Wx + h_{t−1}·Wh), so placement parsing
 * meets nested subgraph nodes: input `x` [T, B, I] (time-major, as Scan iterates axis 0), outputs
 * `hidden_states` [T, B, H] and `h_n` [B, H]; h_0 = 0.
 */
export function scanRnnModel(Wx: Float32Array, Wh: Float32Array, I: number, H: number): Uint8Array {
  const body: onnx.GraphProto.$Properties = {
    name: 'rnn_step',
    node: [
      { name: 'step_xw', opType: 'MatMul', input: ['x_t', 'Wx'], output: ['xw'] },
      { name: 'step_hw', opType: 'MatMul', input: ['h_prev', 'Wh'], output: ['hw'] },
      { name: 'step_add', opType: 'Add', input: ['xw', 'hw'], output: ['pre'] },
      { name: 'step_tanh', opType: 'Tanh', input: ['pre'], output: ['h_next'] },
      { name: 'step_copy', opType: 'Identity', input: ['h_next'], output: ['h_out'] },
    ],
    input: [valueInfo('h_prev', ['batch', H]), valueInfo('x_t', ['batch', I])],
    output: [valueInfo('h_next', ['batch', H]), valueInfo('h_out', ['batch', H])],
  };
  const graph: onnx.GraphProto.$Properties = {
    name: 'scan_rnn',
    node: [
      { name: 'zeros_like', opType: 'Gather', input: ['x', 'first'], output: ['x0'] },
      { name: 'h0', opType: 'MatMul', input: ['x0', 'zeroIH'], output: ['h_init'] },
      {
        name: 'scan',
        opType: 'Scan',
        input: ['h_init', 'x'],
        output: ['h_n', 'hidden_states'],
        attribute: [
          { name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body },
          { name: 'num_scan_inputs', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
        ],
      },
    ],
    initializer: [
      initializer('Wx', [I, H], Wx),
      initializer('Wh', [H, H], Wh),
      initializer('zeroIH', [I, H], new Float32Array(I * H)),
      { name: 'first', dims: [], dataType: onnx.TensorProto.DataType.INT64, int64Data: [0] },
    ],
    input: [valueInfo('x', ['seq', 'batch', I])],
    output: [valueInfo('hidden_states', ['seq', 'batch', H]), valueInfo('h_n', ['batch', H])],
  };
  return encodeModel(graph);
}
