import { ALL_NODES, COMPUTE_OPS } from './placement.ts';
import type { BackendName, Placement } from './runner.ts';
import { CUDA_EP } from './runners/ort-cuda.ts';

/**
 * Backends whose result counts only when their accelerator ran the arithmetic: each one's EP test. A run where a
 * compute op (COMPUTE_OPS: the fused GRU, the scan body's MatMuls, the head's Gemm) ran elsewhere matches, but
 * is `partial`, never a pass. Measured: the CUDA EP of onnxruntime 1.29 has no kernel for GRU with
 * linear_before_reset = 0 and hands the seed's fused node to the CPU EP.
 */
export const ACCELERATED: Partial<Record<BackendName, { label: string; isTarget: (ep: string) => boolean }>> = {
  'browser-webgpu': { label: 'WebGPU', isTarget: (ep) => /webgpu|^js/i.test(ep) },
  'browser-webgpu-jsep': { label: 'WebGPU (JSEP)', isTarget: (ep) => /webgpu|^js/i.test(ep) },
  'ort-cuda': { label: 'CUDA', isTarget: (ep) => ep === CUDA_EP },
};

/**
 * The placement policy for a backend whose outputs matched: undefined when it has no accelerator to check;
 * otherwise the compute nodes that ran off the accelerator and, when the result is not the accelerator's (a
 * fallback, or no compute node reported at all), why it is `partial`. `fallbackByOpType` counts every node of any
 * model that ran off the accelerator, per op type, shape plumbing included: the whole picture, for the report.
 */
export function acceleratorCheck(name: BackendName, placements: readonly Placement[]): { fallbackNodes: Placement[]; fallbackByOpType: Record<string, number>; partial?: string } | undefined {
  const accel = ACCELERATED[name];
  if (!accel) return undefined;
  const fallbackByOpType: Record<string, number> = {};
  for (const p of placements) if (!accel.isTarget(p.ep)) fallbackByOpType[p.opType] = (fallbackByOpType[p.opType] ?? 0) + 1;
  const compute = placements.filter((p) => p.opType === ALL_NODES || COMPUTE_OPS.includes(p.opType));
  const fallbackNodes = compute.filter((p) => !accel.isTarget(p.ep));
  if (fallbackNodes.length > 0) {
    return { fallbackNodes, fallbackByOpType, partial: `outputs match, but not a ${accel.label} result: ${fallbackNodes.map((p) => `${p.opType} ${p.node} ran on ${p.ep}`).join(', ')}` };
  }
  if (compute.length === 0) return { fallbackNodes, fallbackByOpType, partial: `outputs match, but no compute node (${COMPUTE_OPS.join('/')}) was reported on the ${accel.label} EP` };
  return { fallbackNodes, fallbackByOpType };
}
