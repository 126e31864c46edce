/**
 * PyTorch nn.RNN classifier → ONNX: one RNN node per layer, `bidirectional` where it applies. PyTorch's
 * h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh) is ONNX's RNN as it stands, with B = [b_ih, b_hh]; relu is the
 * activation Relu, tanh ONNX's default (Tanh).
 */
import type { PytorchRnn } from '@gru-onnx/model';
import type { RecurrentChain } from './recurrent-chain.ts';
import { pytorchChain, pytorchOnnxLayers } from './pytorch-chain.ts';

export function pytorchRnnChain(m: PytorchRnn): RecurrentChain {
  const activations = { names: [m.nonlinearity === 'relu' ? 'Relu' : 'Tanh'], alpha: [], beta: [] };
  return pytorchChain(
    m,
    pytorchOnnxLayers(m, 'RNN', [0], { activations }),
    `nn.RNN(${m.inputSize}, ${m.hiddenSize}, num_layers=${m.numLayers}, nonlinearity='${m.nonlinearity}', bidirectional=${m.bidirectional})`,
    `h' = ${m.nonlinearity}(W_ih x + b_ih + W_hh h + b_hh)`,
    { 'gru_onnx.nonlinearity': m.nonlinearity },
  );
}

