/**
 * PyTorch nn.GRU classifier → ONNX: one GRU node per layer, `bidirectional` where it applies. PyTorch's
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) is linear_before_reset = 1 and its h' = (1 − z) n + z h is ONNX's
 * own update, so the only change is the gate order: PyTorch stacks r, z, n, ONNX z, r, h.
 */
import type { PytorchGru } from '@gru-onnx/model';
import { buildRecurrentChain, type ChainExportOptions, type RecurrentChain } from './recurrent-chain.ts';
import { pytorchChain, pytorchOnnxLayers, reorderGateBlocks } from './pytorch-chain.ts';
import { encodeModel } from '../builder.ts';
import type { onnx } from '../proto.ts';

/** ONNX's z, r, h as PyTorch's blocks r, z, n: [1, 0, 2]. */
export const PYTORCH_GRU_TO_ONNX = [1, 0, 2] as const;

/** PyTorch's gate blocks r, z, n (rows of [3H, n]) → ONNX's z, r, h. */
export function reorderRznToZrh(m: Float32Array, H: number, n: number): Float32Array {
  return reorderGateBlocks(m, H, n, PYTORCH_GRU_TO_ONNX);
}

export function pytorchGruChain(m: PytorchGru): RecurrentChain {
  return pytorchChain(
    m,
    pytorchOnnxLayers(m, 'GRU', PYTORCH_GRU_TO_ONNX, { linearBeforeReset: 1 }),
    `nn.GRU(${m.inputSize}, ${m.hiddenSize}, num_layers=${m.numLayers}, bidirectional=${m.bidirectional})`,
    "n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h",
  );
}

export function buildPytorchGruModel(m: PytorchGru, options: ChainExportOptions = {}): onnx.ModelProto {
  return buildRecurrentChain(pytorchGruChain(m), options);
}

export function exportPytorchGruModel(m: PytorchGru, options: ChainExportOptions = {}): Uint8Array {
  return encodeModel(buildPytorchGruModel(m, options));
}
