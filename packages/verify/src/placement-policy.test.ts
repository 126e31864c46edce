import { describe, expect, it } from 'vitest';
import { ALL_NODES } from './placement.ts';
import { acceleratorCheck } from './placement-policy.ts';

const CPU = 'CPUExecutionProvider';
const CUDA = 'CUDAExecutionProvider';
const WEBGPU = 'WebGpuExecutionProvider';

describe('acceleratorCheck', () => {
  it('has nothing to say about backends without an accelerator', () => {
    expect(acceleratorCheck('ort-cpu', [{ node: 'gru', opType: 'GRU', ep: CPU }])).toBeUndefined();
    expect(acceleratorCheck('reference', [])).toBeUndefined();
  });

  // The op types onnxruntime's optimiser produces from the scan body's MatMul+Add and the head's Gemm: each one
  // named here on purpose, so that dropping it from the compute ops lets a CPU-run node count as a GPU result.
  it.each(['GRU', 'MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm', 'LSTM', 'RNN', 'Conv'])('a %s that ran on the CPU makes ort-cuda partial, naming it', (opType) => {
    const placements = [
      { node: 'fused step', opType, ep: CPU },
      { node: 'other', opType: 'MatMul', ep: CUDA },
    ];
    const r = acceleratorCheck('ort-cuda', placements)!;
    expect(r.fallbackNodes).toEqual([placements[0]]);
    expect(r.partial).toBe(`outputs match, but not a CUDA result: ${opType} fused step ran on ${CPU}`);
  });

  it('ignores non-compute ops on the CPU (shape plumbing) and passes when every compute op ran on the target', () => {
    const r = acceleratorCheck('ort-cuda', [
      { node: 'shape', opType: 'Shape', ep: CPU },
      { node: 'sig', opType: 'Sigmoid', ep: CPU },
      { node: 'head', opType: 'FusedGemm', ep: CUDA },
    ]);
    // Not partial; but every node off the accelerator is still counted, per op type, for the report.
    expect(r).toEqual({ fallbackNodes: [], fallbackByOpType: { Shape: 1, Sigmoid: 1 } });
  });

  it('is partial when no compute node was reported at all (no evidence is not evidence)', () => {
    expect(acceleratorCheck('ort-cuda', [{ node: 'sig', opType: 'Sigmoid', ep: CUDA }])!.partial).toMatch(/no compute node \(GRU\/.*\) was reported on the CUDA EP/);
    expect(acceleratorCheck('browser-webgpu', [])!.partial).toMatch(/on the WebGPU EP$/);
  });

  it('counts an "all nodes" line by its EP', () => {
    expect(acceleratorCheck('ort-cuda', [{ node: ALL_NODES, opType: ALL_NODES, ep: CUDA }])).toEqual({ fallbackNodes: [], fallbackByOpType: {} });
    expect(acceleratorCheck('ort-cuda', [{ node: ALL_NODES, opType: ALL_NODES, ep: CPU }])!.fallbackNodes).toHaveLength(1);
  });

  it('recognises WebGPU under both of its EP names (WebGPU EP, and the older JSEP "JsExecutionProvider")', () => {
    expect(acceleratorCheck('browser-webgpu', [{ node: 'g', opType: 'GRU', ep: WEBGPU }])!.partial).toBeUndefined();
    expect(acceleratorCheck('browser-webgpu', [{ node: 'g', opType: 'GRU', ep: 'JsExecutionProvider' }])!.partial).toBeUndefined();
    expect(acceleratorCheck('browser-webgpu', [{ node: 'g', opType: 'GRU', ep: CUDA }])!.partial).toMatch(/not a WebGPU result/);
    expect(acceleratorCheck('ort-cuda', [{ node: 'g', opType: 'GRU', ep: 'CUDAExecutionProviderX' }])!.partial).toMatch(/not a CUDA result/);
    // "Js" only at the start names JSEP; elsewhere in a name it does not.
    expect(acceleratorCheck('browser-webgpu', [{ node: 'g', opType: 'GRU', ep: 'CpuJsBridge' }])!.partial).toMatch(/not a WebGPU result/);
    // The JSEP backend (onnxruntime-web's default bundle) checks the same EP names, under its own label.
    expect(acceleratorCheck('browser-webgpu-jsep', [{ node: 'g', opType: 'GRU', ep: 'JsExecutionProvider' }])).toEqual({ fallbackNodes: [], fallbackByOpType: {} });
    expect(acceleratorCheck('browser-webgpu-jsep', [{ node: 'g', opType: 'GRU', ep: WEBGPU }])!.partial).toBeUndefined();
    expect(acceleratorCheck('browser-webgpu-jsep', [{ node: 'g', opType: 'GRU', ep: 'CpuJsBridge' }])!.partial).toBe('outputs match, but not a WebGPU (JSEP) result: GRU g ran on CpuJsBridge');
  });

  it('counts every off-accelerator node per op type, also when the result is partial', () => {
    const r = acceleratorCheck('ort-cuda', [
      { node: 's1', opType: 'Shape', ep: CPU },
      { node: 'g', opType: 'GRU', ep: CPU },
      { node: 's2', opType: 'Shape', ep: CPU },
      { node: 's3', opType: 'Shape', ep: CUDA },
      { node: 'h', opType: 'Gemm', ep: CUDA },
    ])!;
    expect(r.fallbackByOpType).toEqual({ Shape: 2, GRU: 1 });
    expect(r.partial).toBe(`outputs match, but not a CUDA result: GRU g ran on ${CPU}`);
    expect(acceleratorCheck('ort-cuda', [{ node: 's', opType: 'Shape', ep: CPU }])!.fallbackByOpType).toEqual({ Shape: 1 });
  });

  it('names every fallback node, in order', () => {
    const r = acceleratorCheck('ort-cuda', [
      { node: 'gru', opType: 'GRU', ep: CPU },
      { node: 'head', opType: 'Gemm', ep: CPU },
    ])!;
    expect(r.partial).toBe(`outputs match, but not a CUDA result: GRU gru ran on ${CPU}, Gemm head ran on ${CPU}`);
  });
});
