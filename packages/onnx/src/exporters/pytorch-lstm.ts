/**
 * PyTorch nn.LSTM classifier → ONNX: one LSTM node per layer, `bidirectional` where it applies. PyTorch's cell
 * (i = σ(W_ii x + b_ii + W_hi h + b_hi), f, o alike, g = tanh(…), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')) is ONNX's
 * LSTM with its default activations (Sigmoid, Tanh, Tanh), no peepholes and input_forget 0; what changes is the gate
 * order: PyTorch stacks i, f, g, o, ONNX i, o, f, c (c being PyTorch's g).
 */
import type { PytorchLstm } from '@gru-onnx/model';
import type { RecurrentChain } from './recurrent-chain.ts';
import { pytorchChain, pytorchOnnxLayers } from './pytorch-chain.ts';

/** ONNX's i, o, f, c as PyTorch's blocks i, f, g, o: [0, 3, 1, 2]. */
export const PYTORCH_LSTM_TO_ONNX = [0, 3, 1, 2] as const;

export function pytorchLstmChain(m: PytorchLstm): RecurrentChain {
  return pytorchChain(
    m,
    pytorchOnnxLayers(m, 'LSTM', PYTORCH_LSTM_TO_ONNX),
    `nn.LSTM(${m.inputSize}, ${m.hiddenSize}, num_layers=${m.numLayers}, bidirectional=${m.bidirectional})`,
    "i, f, o = σ(W x + b_i + U h + b_h), g = tanh(W_g x + b_ig + U_g h + b_hg), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')",
  );
}

