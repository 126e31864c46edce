import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`../../packages/${pkg}/src/index.ts`, import.meta.url));

// Stryker's test run: only the tests that tools/mutation/run.ts names for the module under mutation. The workspace
// packages resolve to this copy's sources: through node_modules they would reach the unmutated originals.
export default defineConfig({
  resolve: { alias: { '@gru-onnx/model': src('model'), '@gru-onnx/onnx': src('onnx'), '@gru-onnx/verify': src('verify') } },
  test: {
    include: (process.env.GRU_ONNX_MUTATION_TESTS ?? '').split(',').filter(Boolean),
    ...(process.env.GRU_ONNX_MUTATION_SKIP ? { testNamePattern: new RegExp(`^(?!.*(?:${process.env.GRU_ONNX_MUTATION_SKIP}))`) } : {}),
    testTimeout: 120_000,
    pool: 'forks',
  },
});
