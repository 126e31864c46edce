/**
 * TensorFlow.js layers GRU → ONNX. tfjs already uses ONNX's gate order z, r, h, its update h' = z h + (1 − z) h̃
 * (no z negation) and resetAfter = false (linear_before_reset = 0); its matrices are [in, 3H], so they are
 * transposed to ONNX's [3H, in]. hardSigmoid, clip(0.2 a + 0.5, 0, 1), is ONNX HardSigmoid(alpha 0.2, beta 0.5).
 * Stacked GRUs become one GRU node each; Dense becomes Gemm, followed by Softmax where the Dense has it.
 */
import { HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA, UserError, type TfjsGruLayer, type TfjsLayersModel, type TfjsRecurrentLayer } from '@gru-onnx/model';
import { encodeModel } from '../builder.ts';
import type { onnx } from '../proto.ts';
import { transposeMatrix } from '../matrix.ts';
import { buildRecurrentChain, type ChainExportOptions, type OnnxRecurrentLayer } from './recurrent-chain.ts';

function onnxLayer(l: TfjsGruLayer): OnnxRecurrentLayer {
  const { inputSize: I, hiddenSize: H } = l;
  const B = new Float32Array(6 * H);
  B.set(l.bias, 0); // Rb = 0: tfjs has one bias, added with the input projection.
  const activations = l.recurrentActivation === 'hardSigmoid'
    ? { names: ['HardSigmoid', 'Tanh'], alpha: [HARD_SIGMOID_ALPHA], beta: [HARD_SIGMOID_BETA] }
    : { names: ['Sigmoid', 'Tanh'], alpha: [], beta: [] };
  return { cell: 'GRU', W: transposeMatrix(l.kernel, I, 3 * H), R: transposeMatrix(l.recurrentKernel, H, 3 * H), B, inputSize: I, hiddenSize: H, dirs: 1, linearBeforeReset: 0, activations };
}

export function buildTfjsLayersModel(m: TfjsLayersModel, options: ChainExportOptions = {}): onnx.ModelProto {
  const isGru = (l: TfjsRecurrentLayer): l is TfjsGruLayer => l.cell === 'GRU';
  const other = m.layers.find((l) => !isGru(l));
  if (other) throw new UserError(`${other.cell} layer '${other.name}': only GRU layers export to ONNX so far`);
  const grus = m.layers.filter(isGru).map((l) => `GRU '${l.name}' (units ${l.hiddenSize}, recurrentActivation ${l.recurrentActivation})`).join(' → ');
  return buildRecurrentChain(
    {
      name: 'tfjs_layers_gru',
      inputSize: m.inputSize,
      layers: m.layers.filter(isGru).map(onnxLayer),
      head: { weight: m.dense.kernel, bias: m.dense.bias, outputSize: m.outputSize, transB: false, softmax: m.dense.activation === 'softmax' },
      // A tfjs GRU without returnSequences hands Dense its final state.
      reads: 'final-state',
      docString: [
        `A TensorFlow.js layers model, ${grus} → Dense '${m.dense.name}' (${m.outputSize}, ${m.dense.activation}), exported by gru-onnx.`,
        "z, r = σ_r(x K + b + h RK), h̃ = tanh(x K_h + b_h + (r ⊙ h) RK_h), h' = z ⊙ h + (1 − z) ⊙ h̃; x is [batch, seq, input].",
      ].join('\n'),
      metadata: { 'gru_onnx.source': 'tfjs-layers', 'gru_onnx.x_layout': 'batch_seq_input' },
    },
    options,
  );
}

export function exportTfjsLayersModel(m: TfjsLayersModel, options: ChainExportOptions = {}): Uint8Array {
  return encodeModel(buildTfjsLayersModel(m, options));
}
