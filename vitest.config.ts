import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The packages' exports name their built dist/; tests run the sources, as tsx does through tsconfig.json's paths.
    alias: [{ find: /^@gru-onnx\/(model|onnx|verify|cli)$/, replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'tools/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core CI machine: onnxruntime, tfjs-wasm and Chromium each want threads of their own.
    maxWorkers: 2,
    pool: 'forks',
  },
});
