import type { Runner } from '../runner.ts';
import { createBrowserRunner } from './browser.ts';
import type { RunnerOptions } from './common.ts';

/**
 * onnxruntime-web's native WebGPU EP (`onnxruntime-web/webgpu`, ort.webgpu.min.mjs) in headless Chromium, on the
 * adapter `--webgpu-adapter` picks (RunnerOptions.webgpuAdapter). Nodes the EP declines run on onnxruntime's CPU
 * EP inside the same session; the report lists them per op type.
 */
export const WEBGPU_EP = 'WebGpuExecutionProvider';

export function createBrowserWebgpuRunner(options: RunnerOptions = {}): Runner {
  return createBrowserRunner('browser-webgpu', 'webgpu', options);
}

/** The JSEP EP of the default bundle (`onnxruntime-web`, ort.min.mjs): other kernels, other fallbacks. */
export const JSEP_EP = 'JsExecutionProvider';

/**
 * onnxruntime-web's other WebGPU implementation: the default bundle's `webgpu` (JSEP, JavaScript kernels over
 * WebGPU). A web app importing `onnxruntime-web` and asking for `webgpu` gets this one.
 */
export function createBrowserWebgpuJsepRunner(options: RunnerOptions = {}): Runner {
  return createBrowserRunner('browser-webgpu-jsep', 'webgpu-jsep', options);
}
