/**
 * Random recurrent chains and inputs for the exporter's tests (and benchmarks): seeded, with weights wide enough
 * that every gate saturates somewhere. Not a trained model.
 */
import { Rng } from '@gru-onnx/model';
import type { PytorchHead } from '@gru-onnx/model';
import type { OnnxCell, OnnxRecurrentLayer, RecurrentChain } from './recurrent-chain.ts';
import { CELL_GATES } from './scan-cells.ts';

/** A cell as the tests vary it: the ONNX cell, GRU's linear_before_reset, and the activations of one direction. */
export interface CellSpec {
  label: string;
  cell: OnnxCell;
  lbr?: 0 | 1;
  activations?: OnnxRecurrentLayer['activations'];
}

export const CELL_SPECS: CellSpec[] = [
  { label: 'GRU lbr 0', cell: 'GRU', lbr: 0 },
  { label: 'GRU lbr 1', cell: 'GRU', lbr: 1 },
  { label: 'GRU HardSigmoid', cell: 'GRU', lbr: 0, activations: { names: ['HardSigmoid', 'Tanh'], alpha: [0.2], beta: [0.5] } },
  { label: 'LSTM', cell: 'LSTM' },
  { label: 'LSTM HardSigmoid', cell: 'LSTM', activations: { names: ['HardSigmoid', 'Tanh', 'Tanh'], alpha: [0.3], beta: [0.45] } },
  { label: 'RNN tanh', cell: 'RNN' },
  { label: 'RNN relu', cell: 'RNN', activations: { names: ['Relu'], alpha: [], beta: [] } },
  // The rest of ONNX's activation functions, parameters consumed in order by those that take them (Elu: default).
  // (GRU with softer gates amplifies rounding over 200 steps beyond a tight bound, and ThresholdedRelu is
  // discontinuous: those are compared over a few steps, in recurrent-chain.test.ts.)
  { label: 'LSTM HardSigmoid Elu Softsign', cell: 'LSTM', activations: { names: ['HardSigmoid', 'Elu', 'Softsign'], alpha: [0.25, 0.8], beta: [0.55] } },
  { label: 'RNN LeakyRelu', cell: 'RNN', activations: { names: ['LeakyRelu'], alpha: [0.05], beta: [] } },
  { label: 'RNN Affine', cell: 'RNN', activations: { names: ['Affine'], alpha: [0.9], beta: [0.1] } },
  { label: 'RNN Softplus', cell: 'RNN', activations: { names: ['Softplus'], alpha: [], beta: [] } },
];

const uniform = (rng: Rng, n: number, scale: number) => Float32Array.from({ length: n }, () => rng.range(-scale, scale));

/** A chain of random, non-trivial weights: wide enough that every gate saturates somewhere, biases included. */
export function randomChain(seed: number, specs: CellSpec[], o: { dirs: 1 | 2; I?: number; H?: number; reads?: PytorchHead; softmax?: boolean }): RecurrentChain {
  const rng = new Rng(seed);
  const I = o.I ?? 4;
  const H = o.H ?? 5;
  let inputSize = I;
  const layers = specs.map((spec): OnnxRecurrentLayer => {
    const G = CELL_GATES[spec.cell];
    // ReLU's recurrence grows without bound for a spectral radius above 1: keep it below.
    const scale = spec.cell === 'RNN' ? 0.6 / Math.sqrt(H) : 0.9;
    const layer: OnnxRecurrentLayer = {
      cell: spec.cell,
      inputSize,
      hiddenSize: H,
      dirs: o.dirs,
      W: uniform(rng, o.dirs * G * H * inputSize, 0.9),
      R: uniform(rng, o.dirs * G * H * H, scale),
      B: uniform(rng, o.dirs * 2 * G * H, 0.5),
    };
    if (spec.lbr !== undefined) layer.linearBeforeReset = spec.lbr;
    if (spec.activations) layer.activations = spec.activations;
    inputSize = o.dirs * H;
    return layer;
  });
  const F = o.dirs * H;
  return {
    name: 'test_chain',
    inputSize: I,
    layers,
    head: { weight: uniform(rng, 3 * F, 0.8), bias: uniform(rng, 3, 0.5), outputSize: 3, transB: true, softmax: o.softmax ?? false },
    reads: o.reads ?? 'final-state',
    docString: 'test',
    metadata: {},
  };
}

export function slotCounts(c: RecurrentChain): { S: number; lstmS: number; H: number } {
  return {
    S: c.layers.reduce((a, l) => a + l.dirs, 0),
    lstmS: c.layers.reduce((a, l) => a + (l.cell === 'LSTM' ? l.dirs : 0), 0),
    H: c.layers[0]!.hiddenSize,
  };
}

/** Named float32 inputs, data and dims. */
export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** x [batch, seq, I], and h0/c0 [S, batch, H] when the chain takes them. */
export function randomFeeds(c: RecurrentChain, batch: number, seq: number, seed: number, withState: boolean): Feeds {
  const rng = new Rng(seed);
  const feeds: Feeds = { x: { data: uniform(rng, batch * seq * c.inputSize, 1.5), dims: [batch, seq, c.inputSize] } };
  if (withState) {
    const { S, lstmS, H } = slotCounts(c);
    feeds.h0 = { data: uniform(rng, S * batch * H, 0.9), dims: [S, batch, H] };
    if (lstmS > 0) feeds.c0 = { data: uniform(rng, lstmS * batch * H, 1.5), dims: [lstmS, batch, H] };
  }
  return feeds;
}

