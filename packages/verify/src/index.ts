export * from './runner.ts';
export * from './registry.ts';
export * from './placement.ts';
export { WEBGPU_EP } from './runners/browser-webgpu.ts';
export { CUDA_PROVIDER_LIBS } from './runners/ort-cuda.ts';
export { DEFAULT_TIMEOUT_MS } from './runners/common.ts';
export { killAllChromium, liveChromiumCount } from './browser/chromium.ts';
