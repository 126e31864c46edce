import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'tools/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core CI machine: onnxruntime, tfjs-wasm and Chromium each want threads of their own.
    maxWorkers: 2,
    pool: 'forks',
  },
});
