import { onnx } from '@gru-onnx/onnx';
import type { Job } from '../runner.ts';

/**
 * A one-node MatMul model ([1, 2] × [2, 2]) and its feeds: what a probe runs to prove a backend can create a
 * session and execute a kernel (for CUDA: the provider libraries load, cuBLAS is found, a GPU answers).
 */
export function probeModel(): Job {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: number[]): onnx.ValueInfoProto.$Properties => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'gru-onnx-probe',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      node: [{ name: 'probe_matmul', opType: 'MatMul', input: ['a', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dims: [2, 2], dataType: FLOAT, floatData: [1, 2, 3, 4] }],
      input: [info('a', [1, 2])],
      output: [info('y', [1, 2])],
    },
  }).finish();
  return { model, feeds: { a: { dims: [1, 2], data: new Float32Array([1, 1]) } }, outputNames: ['y'] };
}
