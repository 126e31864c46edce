import type { Runner } from '../runner.ts';
import { createBrowserRunner } from './browser.ts';
import type { RunnerOptions } from './common.ts';

/** onnxruntime-web's wasm EP in headless Chromium (GPU disabled). */
export function createBrowserWasmRunner(options: RunnerOptions = {}): Runner {
  return createBrowserRunner('browser-wasm', 'wasm', options);
}
