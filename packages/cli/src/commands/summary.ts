/**
 * One line per command, for the top-level help: `gru-onnx --help` lists the commands without loading them (their
 * modules pull in the model, ONNX and verify packages), and each command shows the same line in its own help.
 */
export const SUMMARY = {
  demo: "the main job on the seed's defaults: train, save the checkpoint, export, verify on every available backend, write the report and a bundle",
  train: "train the seed's GRU classifier on TensorFlow.js and save a safetensors checkpoint",
  export: 'write an ONNX model from a checkpoint (seed, PyTorch nn.GRU or tfjs-layers)',
  verify: "run an ONNX model on each backend and compare with the original model's answers",
  inspect: 'what is inside an ONNX model: opsets, inputs and outputs with dimensions, op counts, parameters, metadata',
  doctor: 'each backend: available or why not, versions, thread settings, and the exact steps to enable it',
  bench: "run the benchmarks in tools/bench (training, inference) and print ratios against their baselines",
} as const;

export type CommandName = keyof typeof SUMMARY;
