/**
 * What every PyTorch RNNBase import shares on its way to the ONNX-layout chain: the gate blocks reordered from
 * PyTorch's stacking to ONNX's, B = [b_ih, b_hh] per direction (ONNX's Wb and Rb are added exactly where PyTorch
 * adds b_ih and b_hh, for every cell but the GRU's n gate, which linear_before_reset = 1 covers), and the head,
 * doc string and metadata.
 */
import { pytorchCellOf, pytorchForward, type PytorchRecurrent } from '@gru-onnx/model';
import type { OnnxCell, OnnxRecurrentLayer, RecurrentChain } from './recurrent-chain.ts';

/**
 * The row blocks of a [G·H, n] matrix (or a [G·H] bias, n = 1) in another order: block k of the result is block
 * order[k] of `m`. PyTorch's LSTM i, f, g, o to ONNX's i, o, f, c is [0, 3, 1, 2].
 */
export function reorderGateBlocks(m: Float32Array, H: number, n: number, order: readonly number[]): Float32Array {
  const block = H * n;
  if (m.length !== order.length * block) throw new RangeError(`${m.length} values are not ${order.length} blocks of ${H}×${n}`);
  const out = new Float32Array(m.length);
  order.forEach((from, k) => out.set(m.subarray(from * block, (from + 1) * block), k * block));
  return out;
}

/** Each PyTorch layer as one ONNX node's constants: W [dirs, G·H, in], R [dirs, G·H, H], B [dirs, 2·G·H]. */
export function pytorchOnnxLayers(m: PytorchRecurrent, cell: OnnxCell, order: readonly number[], extra: Pick<OnnxRecurrentLayer, 'linearBeforeReset' | 'activations'> = {}): OnnxRecurrentLayer[] {
  const H = m.hiddenSize;
  const GH = order.length * H;
  return m.layers.map((layer) => {
    const dirs = layer.directions.length as 1 | 2;
    const W = new Float32Array(dirs * GH * layer.inputSize);
    const R = new Float32Array(dirs * GH * H);
    const B = new Float32Array(dirs * 2 * GH);
    layer.directions.forEach((d, k) => {
      W.set(reorderGateBlocks(d.wIh, H, layer.inputSize, order), k * GH * layer.inputSize);
      R.set(reorderGateBlocks(d.wHh, H, H, order), k * GH * H);
      B.set(reorderGateBlocks(d.bIh, H, 1, order), k * 2 * GH);
      B.set(reorderGateBlocks(d.bHh, H, 1, order), k * 2 * GH + GH);
    });
    return { cell, W, R, B, inputSize: layer.inputSize, hiddenSize: H, dirs, ...extra };
  });
}

/** The chain of a PyTorch classifier: its layers, then the Linear (weight [O, dirs·H], so transB) on what the head reads. */
export function pytorchChain(m: PytorchRecurrent, layers: OnnxRecurrentLayer[], module: string, equations: string, metadata: Record<string, string> = {}): RecurrentChain {
  const dirs = m.bidirectional ? 2 : 1;
  return {
    name: `pytorch_${pytorchCellOf(m.kind).toLowerCase()}_classifier`,
    inputSize: m.inputSize,
    layers,
    head: { weight: m.fc.weight, bias: m.fc.bias, outputSize: m.outputSize, transB: true, softmax: false },
    reads: m.head,
    docString: [
      `A PyTorch ${module} + nn.Linear(${dirs * m.hiddenSize}, ${m.outputSize}) classifier, exported by gru-onnx.`,
      `${equations}; ${pytorchForward(m)} (--head ${m.head}${m.headDeclared ? '' : ', the same numbers as last-step'}).`,
      `x is always [batch, seq, input]${m.batchFirst === false ? ' (the PyTorch model was batch_first=False: transpose its [seq, batch, input] input)' : ''}; h0, h_n${m.kind === 'pytorch-lstm' ? ', c0 and c_n are' : ' are'} PyTorch's [num_layers·num_directions, batch, H].`,
    ].join('\n'),
    metadata: {
      'gru_onnx.source': m.kind,
      'gru_onnx.head': m.head,
      'gru_onnx.pytorch_batch_first': m.batchFirst === undefined ? 'unknown' : String(m.batchFirst),
      'gru_onnx.x_layout': 'batch_seq_input',
      ...metadata,
    },
  };
}
