/**
 * The modules where a silent bug would pass a wrong model, each with the files Stryker mutates and the tests that
 * must kill the mutants. `pnpm mutate:<name>` runs one (tools/mutation/run.ts); scores and the survivors judged
 * equivalent are in docs/mutation.md.
 */
export interface MutationModule {
  /** Files (or `file:from-to` line ranges) to mutate. */
  mutate: string[];
  /** Test files run against each mutant. */
  tests: string[];
  /** Tests left out by name: ones that start Python and take seconds per mutant without testing this module. */
  skip?: RegExp;
}

export const MODULES: Record<string, MutationModule> = {
  compare: {
    mutate: ['packages/verify/src/compare.ts', 'packages/verify/src/tolerances.ts'],
    tests: ['packages/verify/src/compare.test.ts', 'packages/verify/src/tolerances.test.ts'],
  },
  placement: {
    mutate: ['packages/verify/src/placement.ts', 'packages/verify/src/placement-policy.ts'],
    tests: ['packages/verify/src/placement.test.ts', 'packages/verify/src/placement-policy.test.ts'],
  },
  readers: {
    mutate: ['packages/model/src/safetensors.ts', 'packages/onnx/src/reader.ts'],
    tests: ['packages/model/src/safetensors.test.ts', 'packages/model/src/checkpoint.test.ts', 'packages/onnx/src/reader.test.ts'],
    skip: /MyModel\.load_state_dict/,
  },
  // Line ranges: the PyTorch gate orders (GRU, LSTM), nn.RNN's activation, reorderGateBlocks and pytorchOnnxLayers
  // (pytorch-chain.ts), LSTM_BLOCKS, reorderBlocks, gate and onnxLayer (tfjs), and the seed's concat, writeFused's
  // W/R/B, scanWeights and writeStepCell (seed-graph.ts); the rest of those files writes graph structure, not weights.
  'weight-mapping': {
    mutate: [
      'packages/onnx/src/exporters/pytorch-gru.ts:13-13',
      'packages/onnx/src/exporters/pytorch-lstm.ts:12-12',
      'packages/onnx/src/exporters/pytorch-rnn.ts:11-11',
      'packages/onnx/src/exporters/pytorch-chain.ts:14-39',
      'packages/onnx/src/exporters/tfjs-layers.ts:22-70',
      'packages/onnx/src/matrix.ts',
      'packages/onnx/src/seed-graph.ts:43-52',
      'packages/onnx/src/seed-graph.ts:78-84',
      'packages/onnx/src/seed-graph.ts:104-112',
      'packages/onnx/src/seed-graph.ts:143-154',
    ],
    // The imports' numeric checks against PyTorch's and tfjs's own answers live in test/imports-*.
    tests: [
      'packages/onnx/src/exporters/exporters.test.ts',
      'packages/onnx/src/matrix.test.ts',
      'packages/onnx/src/export-seed.test.ts',
      'test/imports-tfjs.test.ts',
      'test/tfjs-rnns.test.ts',
      'test/imports-pytorch-bi.test.ts',
      'test/pytorch-rnns.test.ts',
    ],
  },
  // The scan form's cells (GRU, LSTM, RNN from Gemm and elementwise ops), checked against onnxruntime's fused
  // kernels, whose code shares nothing with them, and by ONNX's own checker.
  'scan-cells': {
    mutate: ['packages/onnx/src/exporters/scan-cells.ts'],
    tests: ['packages/onnx/src/exporters/recurrent-chain.test.ts', 'test/onnx-checker.test.ts'],
  },
  reference: {
    mutate: ['packages/model/src/reference.ts'],
    tests: ['packages/model/src/reference.test.ts'],
  },
};
