import type { Runner } from '../runner.ts';
import { createBrowserRunner } from './browser.ts';
import type { RunnerOptions } from './common.ts';

/**
 * onnxruntime-web's webgpu EP in headless Chromium, WebGPU in software (SwiftShader). Nodes the EP declines run
 * on onnxruntime's CPU EP inside the same session: judge a result with
 * `fallbackOps(result.placements, WEBGPU_EP)`. onnxruntime-web 1.30 places the fused GRU node on CPU.
 */
export const WEBGPU_EP = 'WebGpuExecutionProvider';

export function createBrowserWebgpuRunner(options: RunnerOptions = {}): Runner {
  return createBrowserRunner('browser-webgpu', 'webgpu', options);
}
