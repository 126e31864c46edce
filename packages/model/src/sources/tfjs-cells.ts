/**
 * The float64 steps of TensorFlow.js's recurrent cells (`tfjs-layers/src/layers/recurrent.ts`, 4.22), written from
 * tfjs's own equations. Every cell keeps its gates stacked along the last axis of kernel [I, G·H], recurrent
 * kernel [H, G·H] and bias [G·H], and adds its one bias with the input projection:
 *
 *   GRU (resetAfter false), gates z, r, h:
 *     z  = σ_r(x K_z + b_z + h RK_z)        r = σ_r(x K_r + b_r + h RK_r)
 *     h̃  = tanh(x K_h + b_h + (r ⊙ h) RK_h)
 *     h' = z ⊙ h + (1 − z) ⊙ h̃
 *   LSTM, gates i, f, c, o (z = x K + h RK + b split in four):
 *     i = σ_r(z_i)   f = σ_r(z_f)   c' = f ⊙ c + i ⊙ tanh(z_c)   o = σ_r(z_o)   h' = o ⊙ tanh(c')
 *   SimpleRNN:
 *     h' = act(x K + b + h RK)
 *
 * σ_r is hardSigmoid (tfjs's default for GRU and LSTM: clip(0.2 a + 0.5, 0, 1), `backend/tfjs_backend.ts`) or
 * sigmoid; act is tanh (default), relu or linear. unitForgetBias only initializes the forget block of the LSTM
 * bias to 1 before training: the saved bias already holds it, so no step adds it.
 */

export const HARD_SIGMOID_ALPHA = 0.2;
export const HARD_SIGMOID_BETA = 0.5;

export type TfjsRecurrentActivation = 'hardSigmoid' | 'sigmoid';
export type TfjsRnnActivation = 'tanh' | 'relu' | 'linear';

interface TfjsRecurrentWeights {
  name: string;
  inputSize: number;
  /** units */
  hiddenSize: number;
  /** [input, G·H], gate blocks in the cell's order */
  kernel: Float32Array;
  /** [H, G·H] */
  recurrentKernel: Float32Array;
  /** [G·H] (zeros when useBias is false) */
  bias: Float32Array;
}

export interface TfjsGruLayer extends TfjsRecurrentWeights {
  cell: 'GRU';
  recurrentActivation: TfjsRecurrentActivation;
}

export interface TfjsLstmLayer extends TfjsRecurrentWeights {
  cell: 'LSTM';
  recurrentActivation: TfjsRecurrentActivation;
  /** As saved; informational (the bias already holds its effect). */
  unitForgetBias: boolean;
}

export interface TfjsSimpleRnnLayer extends TfjsRecurrentWeights {
  cell: 'SimpleRNN';
  activation: TfjsRnnActivation;
}

export type TfjsRecurrentLayer = TfjsGruLayer | TfjsLstmLayer | TfjsSimpleRnnLayer;
export type TfjsCell = TfjsRecurrentLayer['cell'];

/** Gate blocks G of each cell: kernel is [I, G·H]. */
export const TFJS_GATES: Readonly<Record<TfjsCell, number>> = { GRU: 3, LSTM: 4, SimpleRNN: 1 };

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));
const hardSigmoid = (a: number): number => Math.min(1, Math.max(0, HARD_SIGMOID_ALPHA * a + HARD_SIGMOID_BETA));
const RNN_ACTIVATIONS: Readonly<Record<TfjsRnnActivation, (a: number) => number>> = { tanh: Math.tanh, relu: (a) => Math.max(0, a), linear: (a) => a };

/** v M for v [n] and M [n, cols]: the first `width` columns from column `from`. */
function vecMat(v: Float64Array, M: Float32Array, cols: number, from: number, width: number, into: Float64Array): Float64Array {
  for (let i = 0; i < v.length; i++) {
    const vi = v[i]!;
    if (vi === 0) continue;
    const row = i * cols + from;
    for (let c = 0; c < width; c++) into[c]! += vi * M[row + c]!;
  }
  return into;
}

/** One layer's state between steps: h, and c for an LSTM. */
export interface TfjsLayerState {
  h: Float64Array;
  c?: Float64Array;
}

function gruStep(l: TfjsGruLayer, x: Float64Array, s: TfjsLayerState): TfjsLayerState {
  const H = l.hiddenSize;
  const H3 = 3 * H;
  const act = l.recurrentActivation === 'sigmoid' ? sigmoid : hardSigmoid;
  const h = s.h;
  // matrixX = x K + bias, [3H], blocks z, r, h.
  const matrixX = vecMat(x, l.kernel, H3, 0, H3, Float64Array.from(l.bias));
  const recurrentZR = vecMat(h, l.recurrentKernel, H3, 0, 2 * H, new Float64Array(2 * H));
  const z = new Float64Array(H);
  const rH = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    z[j] = act(matrixX[j]! + recurrentZR[j]!);
    rH[j] = act(matrixX[H + j]! + recurrentZR[H + j]!) * h[j]!;
  }
  const recurrentH = vecMat(rH, l.recurrentKernel, H3, 2 * H, H, new Float64Array(H));
  const next = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const hTilde = Math.tanh(matrixX[2 * H + j]! + recurrentH[j]!);
    next[j] = z[j]! * h[j]! + (1 - z[j]!) * hTilde;
  }
  return { h: next };
}

function lstmStep(l: TfjsLstmLayer, x: Float64Array, s: TfjsLayerState): TfjsLayerState {
  const H = l.hiddenSize;
  const H4 = 4 * H;
  const act = l.recurrentActivation === 'sigmoid' ? sigmoid : hardSigmoid;
  // z = x K + h RK + b, [4H], blocks i, f, c, o.
  const z = vecMat(s.h, l.recurrentKernel, H4, 0, H4, vecMat(x, l.kernel, H4, 0, H4, Float64Array.from(l.bias)));
  const cTMinus1 = s.c!;
  const h = new Float64Array(H);
  const c = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const i = act(z[j]!);
    const f = act(z[H + j]!);
    c[j] = f * cTMinus1[j]! + i * Math.tanh(z[2 * H + j]!);
    const o = act(z[3 * H + j]!);
    h[j] = o * Math.tanh(c[j]!);
  }
  return { h, c };
}

function simpleRnnStep(l: TfjsSimpleRnnLayer, x: Float64Array, s: TfjsLayerState): TfjsLayerState {
  const H = l.hiddenSize;
  const act = RNN_ACTIVATIONS[l.activation];
  const a = vecMat(s.h, l.recurrentKernel, H, 0, H, vecMat(x, l.kernel, H, 0, H, Float64Array.from(l.bias)));
  return { h: a.map(act) };
}

/** One step of any cell: x [I] and the state before it → the state after it (h is also the step's output). */
export function tfjsCellStep(l: TfjsRecurrentLayer, x: Float64Array, s: TfjsLayerState): TfjsLayerState {
  switch (l.cell) {
    case 'GRU':
      return gruStep(l, x, s);
    case 'LSTM':
      return lstmStep(l, x, s);
    case 'SimpleRNN':
      return simpleRnnStep(l, x, s);
  }
}
