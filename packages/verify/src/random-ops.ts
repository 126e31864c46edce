import { allNodes, decodeModel } from '@gru-onnx/onnx';

/** Ops whose outputs are random draws: two runs (or two runtimes) need not agree. */
export const RANDOM_OPS = ['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial'];

/** Random ops in every graph of the model, subgraphs included. */
export function randomOps(model: Uint8Array): string[] {
  const m = decodeModel(model);
  const found = new Set<string>();
  for (const n of allNodes(m.graph!)) {
    if (RANDOM_OPS.includes(n.opType ?? '')) found.add(n.opType!);
    // Dropout is random only in training mode, its third input.
    if (n.opType === 'Dropout' && (n.input?.length ?? 0) >= 3 && n.input![2]) found.add('Dropout (training_mode)');
  }
  return [...found].sort();
}
