/**
 * TensorFlow.js layers recurrent models → ONNX, one node per layer (tfjs-cells.ts has tfjs's equations):
 *
 * - every cell keeps its gates along the last axis of kernel [I, G·H] and recurrent kernel [H, G·H]: both are
 *   transposed to ONNX's [G·H, in];
 * - every cell has one bias, added with the input projection: it is ONNX's Wb, and Rb is zero;
 * - GRU: tfjs already uses ONNX's gate order z, r, h, its update h' = z h + (1 − z) h̃ (no z negation) and
 *   resetAfter = false (linear_before_reset = 0);
 * - LSTM: tfjs stacks i, f, c, o, ONNX i, o, f, c: block order [0, 3, 1, 2]. No peepholes. unitForgetBias is in
 *   the saved bias already (tfjs only initializes the forget block with it), so nothing is added;
 * - SimpleRNN h' = act(x K + b + h RK) is ONNX RNN with act (Tanh, Relu; linear is Affine(1, 0));
 * - hardSigmoid, clip(0.2 a + 0.5, 0, 1), is ONNX HardSigmoid(alpha 0.2, beta 0.5).
 *
 * Dense becomes Gemm on the last layer's final state, followed by Softmax where the Dense has it.
 */
import { HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA, type TfjsLayersModel, type TfjsRecurrentActivation, type TfjsRecurrentLayer } from '@gru-onnx/model';
import { encodeModel } from '../builder.ts';
import type { onnx } from '../proto.ts';
import { transposeMatrix } from '../matrix.ts';
import { buildRecurrentChain, type ChainExportOptions, type OnnxRecurrentLayer } from './recurrent-chain.ts';

/** tfjs's LSTM gate blocks i, f, c, o → ONNX's i, o, f, c: ONNX block k is tfjs block LSTM_BLOCKS[k]. */
export const LSTM_BLOCKS = [0, 3, 1, 2] as const;

/** Rows [G·H, n] in tfjs's gate order → the same blocks in ONNX's, block k taken from `order[k]`. */
export function reorderBlocks(m: Float32Array, H: number, n: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(m.length);
  const block = H * n;
  order.forEach((from, k) => out.set(m.subarray(from * block, (from + 1) * block), k * block));
  return out;
}

/** The recurrent activation as ONNX's first function, with HardSigmoid's alpha and beta. */
function gate(a: TfjsRecurrentActivation): { names: string[]; alpha: number[]; beta: number[] } {
  return a === 'hardSigmoid' ? { names: ['HardSigmoid'], alpha: [HARD_SIGMOID_ALPHA], beta: [HARD_SIGMOID_BETA] } : { names: ['Sigmoid'], alpha: [], beta: [] };
}

/** One tfjs layer in ONNX layout and gate order. */
export function onnxLayer(l: TfjsRecurrentLayer): OnnxRecurrentLayer {
  const { inputSize: I, hiddenSize: H } = l;
  const base = { inputSize: I, hiddenSize: H, dirs: 1 as const };
  switch (l.cell) {
    case 'GRU': {
      const B = new Float32Array(6 * H);
      B.set(l.bias, 0); // Rb = 0
      const g = gate(l.recurrentActivation);
      return { ...base, cell: 'GRU', W: transposeMatrix(l.kernel, I, 3 * H), R: transposeMatrix(l.recurrentKernel, H, 3 * H), B, linearBeforeReset: 0, activations: { ...g, names: [...g.names, 'Tanh'] } };
    }
    case 'LSTM': {
      const B = new Float32Array(8 * H);
      B.set(reorderBlocks(l.bias, H, 1, LSTM_BLOCKS), 0); // Rb = 0
      const g = gate(l.recurrentActivation);
      return {
        ...base,
        cell: 'LSTM',
        W: reorderBlocks(transposeMatrix(l.kernel, I, 4 * H), H, I, LSTM_BLOCKS),
        R: reorderBlocks(transposeMatrix(l.recurrentKernel, H, 4 * H), H, H, LSTM_BLOCKS),
        B,
        // f (gates), g (cell input), h (cell output): tfjs's recurrentActivation, tanh, tanh.
        activations: { ...g, names: [...g.names, 'Tanh', 'Tanh'] },
      };
    }
    case 'SimpleRNN': {
      const B = new Float32Array(2 * H);
      B.set(l.bias, 0); // Rb = 0
      const activations = l.activation === 'linear'
        ? { names: ['Affine'], alpha: [1], beta: [0] }
        : { names: [l.activation === 'relu' ? 'Relu' : 'Tanh'], alpha: [], beta: [] };
      return { ...base, cell: 'RNN', W: transposeMatrix(l.kernel, I, H), R: transposeMatrix(l.recurrentKernel, H, H), B, activations };
    }
  }
}

function describeLayer(l: TfjsRecurrentLayer): string {
  const options = l.cell === 'SimpleRNN' ? `activation ${l.activation}` : `recurrentActivation ${l.recurrentActivation}${l.cell === 'LSTM' && l.unitForgetBias ? ', unitForgetBias' : ''}`;
  return `${l.cell} '${l.name}' (units ${l.hiddenSize}, ${options})`;
}

const EQUATIONS: Record<TfjsRecurrentLayer['cell'], string> = {
  GRU: "GRU: z, r = σ_r(x K + b + h RK), h̃ = tanh(x K_h + b_h + (r ⊙ h) RK_h), h' = z ⊙ h + (1 − z) ⊙ h̃",
  LSTM: "LSTM: i, f, o = σ_r(x K + h RK + b), c' = f ⊙ c + i ⊙ tanh(x K_c + h RK_c + b_c), h' = o ⊙ tanh(c')",
  SimpleRNN: "SimpleRNN: h' = act(x K + b + h RK)",
};

export function buildTfjsLayersModel(m: TfjsLayersModel, options: ChainExportOptions = {}): onnx.ModelProto {
  const cells = [...new Set(m.layers.map((l) => l.cell))];
  return buildRecurrentChain(
    {
      name: 'tfjs_layers_recurrent',
      inputSize: m.inputSize,
      layers: m.layers.map(onnxLayer),
      head: { weight: m.dense.kernel, bias: m.dense.bias, outputSize: m.outputSize, transB: false, softmax: m.dense.activation === 'softmax' },
      // A tfjs recurrent layer without returnSequences hands Dense its final state.
      reads: 'final-state',
      docString: [
        `A TensorFlow.js layers model, ${m.layers.map(describeLayer).join(' → ')} → Dense '${m.dense.name}' (${m.outputSize}, ${m.dense.activation}), exported by gru-onnx.`,
        `${cells.map((c) => EQUATIONS[c]).join('; ')}; x is [batch, seq, input].`,
      ].join('\n'),
      metadata: { 'gru_onnx.source': 'tfjs-layers', 'gru_onnx.x_layout': 'batch_seq_input' },
    },
    options,
  );
}

export function exportTfjsLayersModel(m: TfjsLayersModel, options: ChainExportOptions = {}): Uint8Array {
  return encodeModel(buildTfjsLayersModel(m, options));
}
