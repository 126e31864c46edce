/**
 * PyTorch nn.GRU classifier → ONNX: one GRU node per layer, `bidirectional` where it applies. PyTorch's
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) is linear_before_reset = 1 and its h' = (1 − z) n + z h is ONNX's
 * own update, so the only change is the gate order: PyTorch stacks r, z, n, ONNX z, r, h.
 */
import { pytorchForward, type PytorchGru } from '@gru-onnx/model';
import { buildRecurrentChain, type ChainExportOptions, type OnnxRecurrentLayer } from './recurrent-chain.ts';
import { encodeModel } from '../builder.ts';
import type { onnx } from '../proto.ts';

/** PyTorch's gate blocks r, z, n (rows of [3H, n]) → ONNX's z, r, h: block order [1, 0, 2]. */
export function reorderRznToZrh(m: Float32Array, H: number, n: number): Float32Array {
  const out = new Float32Array(m.length);
  const block = H * n;
  out.set(m.subarray(block, 2 * block), 0);
  out.set(m.subarray(0, block), block);
  out.set(m.subarray(2 * block, 3 * block), 2 * block);
  return out;
}

function onnxLayers(m: PytorchGru): OnnxRecurrentLayer[] {
  const H = m.hiddenSize;
  return m.layers.map((layer) => {
    const dirs = layer.directions.length as 1 | 2;
    const W = new Float32Array(dirs * 3 * H * layer.inputSize);
    const R = new Float32Array(dirs * 3 * H * H);
    const B = new Float32Array(dirs * 6 * H);
    layer.directions.forEach((d, k) => {
      W.set(reorderRznToZrh(d.wIh, H, layer.inputSize), k * 3 * H * layer.inputSize);
      R.set(reorderRznToZrh(d.wHh, H, H), k * 3 * H * H);
      B.set(reorderRznToZrh(d.bIh, H, 1), k * 6 * H);
      B.set(reorderRznToZrh(d.bHh, H, 1), k * 6 * H + 3 * H);
    });
    return { cell: 'GRU', W, R, B, inputSize: layer.inputSize, hiddenSize: H, dirs, linearBeforeReset: 1 };
  });
}

export function buildPytorchGruModel(m: PytorchGru, options: ChainExportOptions = {}): onnx.ModelProto {
  const dirs = m.bidirectional ? 2 : 1;
  return buildRecurrentChain(
    {
      name: 'pytorch_gru_classifier',
      inputSize: m.inputSize,
      layers: onnxLayers(m),
      head: { weight: m.fc.weight, bias: m.fc.bias, outputSize: m.outputSize, transB: true, softmax: false },
      reads: m.head,
      docString: [
        `A PyTorch nn.GRU(${m.inputSize}, ${m.hiddenSize}, num_layers=${m.numLayers}, bidirectional=${m.bidirectional}) + nn.Linear(${dirs * m.hiddenSize}, ${m.outputSize}) classifier, exported by gru-onnx.`,
        `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h; ${pytorchForward(m)} (--head ${m.head}${m.headDeclared ? '' : ', the same numbers as last-step'}).`,
        `x is always [batch, seq, input]${m.batchFirst === false ? ' (the PyTorch model was batch_first=False: transpose its [seq, batch, input] input)' : ''}.`,
      ].join('\n'),
      metadata: {
        'gru_onnx.source': 'pytorch-gru',
        'gru_onnx.head': m.head,
        'gru_onnx.pytorch_batch_first': m.batchFirst === undefined ? 'unknown' : String(m.batchFirst),
        'gru_onnx.x_layout': 'batch_seq_input',
      },
    },
    options,
  );
}

export function exportPytorchGruModel(m: PytorchGru, options: ChainExportOptions = {}): Uint8Array {
  return encodeModel(buildPytorchGruModel(m, options));
}
