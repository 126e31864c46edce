import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Job, Probe, RunResult, Runner } from '../runner.ts';
import type { RunnerOptions } from './common.ts';
import { firstLine, threadsOf, timeoutOf } from './common.ts';
import { findOrtNode } from './ort-cpu.ts';
import { OrtChild } from './ort-process.ts';
import { probeModel } from './probe-model.ts';

export const CUDA_EP = 'CUDAExecutionProvider';

/** The provider libraries onnxruntime-node loads for `cuda`, from the directory of its binding. */
export const CUDA_PROVIDER_LIBS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;

export const CUDA_ENABLE =
  "with internet: let onnxruntime-node's install script download the CUDA 12 provider libraries (your project: " +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node; this repository: pnpm-workspace.yaml allowBuilds: ' +
  'onnxruntime-node: true, then pnpm install), and install a CUDA 12 runtime with cuDNN 9; ' +
  'offline: copy libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so built for ONNX Runtime 1.29.0 ' +
  "next to onnxruntime-node's libonnxruntime.so.1 and put their CUDA libraries (cuBLAS, cuDNN, cudart, cuRAND) on " +
  'LD_LIBRARY_PATH (tools/cuda/)';

/**
 * The TF32 control. onnxruntime-node 1.29 passes only `deviceId` to the CUDA EP (js/node/src/session_options_helper.cc
 * builds OrtCUDAProviderOptionsV2 with defaults), and that EP's `use_tf32` defaults to 1. So TF32 is set through
 * NVIDIA's process-wide switch instead: NVIDIA_TF32_OVERRIDE=0 makes cuBLAS and cuDNN refuse TF32 whatever the
 * caller asks; leaving it unset keeps the EP's default (TF32 allowed). The child gets the variable explicitly,
 * so an inherited value never decides it.
 */
function tf32Env(tf32: boolean): Record<string, string | undefined> {
  return { NVIDIA_TF32_OVERRIDE: tf32 ? undefined : '0' };
}

/**
 * onnxruntime-node on the CUDA EP, in a worker child (a fresh session and profile per run). It never retries on
 * CPU: if the CUDA EP cannot load, the run fails; nodes the CUDA EP declines still land on CPU (onnxruntime adds
 * its CPU EP to every session), and the placements show them, for the caller to judge with
 * `fallbackOps(placements, CUDA_EP)`.
 */
export function createOrtCudaRunner(options: RunnerOptions = {}): Runner {
  const threads = threadsOf(options);
  const timeoutMs = timeoutOf(options);
  const tf32 = options.tf32 ?? false;
  const deviceId = options.deviceId ?? 0;
  const settings = {
    executionProvider: 'cuda',
    deviceId,
    tf32,
    tf32Control: tf32 ? "CUDA EP default use_tf32=1 (NVIDIA_TF32_OVERRIDE unset)" : 'NVIDIA_TF32_OVERRIDE=0 in the onnxruntime process',
  };
  let child: OrtChild | undefined;
  const childFor = (modulePath: string): OrtChild => {
    child ??= new OrtChild('ort-cuda', { runtime: 'node', modulePath, executionProviders: [{ name: 'cuda', deviceId }], threads, profile: true, env: tf32Env(tf32) });
    return child;
  };
  let probed: Promise<Probe> | undefined;
  return {
    name: 'ort-cuda',
    probe(): Promise<Probe> {
      probed ??= (async (): Promise<Probe> => {
        const found = findOrtNode(options);
        if ('reason' in found) return { available: false, reason: found.reason, enable: found.enable };
        if (process.platform !== 'linux') {
          return { available: false, reason: `the CUDA runner supports Linux only (this is ${process.platform})`, enable: CUDA_ENABLE };
        }
        for (const lib of CUDA_PROVIDER_LIBS) {
          const path = join(found.bindingDir, lib);
          if (!existsSync(path)) {
            return { available: false, reason: `${lib} not found next to onnxruntime-node's binding (${path})`, enable: CUDA_ENABLE };
          }
        }
        // The libraries are there: only a session tells whether they load, find their CUDA libraries and a GPU.
        try {
          const r = await childFor(found.path).run(probeModel(), Math.min(timeoutMs, 30_000));
          const ran = r.placements.find((p) => p.opType === 'MatMul');
          if (ran?.ep !== CUDA_EP) {
            return { available: false, reason: `a CUDA session was created but its probe MatMul ran on ${ran?.ep ?? 'an unknown EP'}`, enable: CUDA_ENABLE };
          }
          return { available: true, versions: { 'onnxruntime-node': found.version }, settings: { ...settings, placementSource: String(r.settings.placementSource) } };
        } catch (err) {
          return { available: false, reason: `CUDA session failed: ${firstLine(err).replace(/^ort-cuda: /, '')}`, enable: CUDA_ENABLE };
        }
      })();
      return probed;
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      const found = findOrtNode(options);
      if ('reason' in found) throw new Error(`ort-cuda: ${found.reason}`);
      const r = await childFor(found.path).run(job, timeoutMs, signal);
      return { ...r, settings: { ...settings, ...r.settings } };
    },
    async close(): Promise<void> {
      await child?.close();
    },
  };
}
