import { defineConfig } from 'vitest/config';

// Stryker's test run: only the tests that tools/mutation/run.ts names for the module under mutation.
export default defineConfig({
  test: {
    include: (process.env.GRU_ONNX_MUTATION_TESTS ?? '').split(',').filter(Boolean),
    ...(process.env.GRU_ONNX_MUTATION_SKIP ? { testNamePattern: new RegExp(`^(?!.*(?:${process.env.GRU_ONNX_MUTATION_SKIP}))`) } : {}),
    testTimeout: 120_000,
    pool: 'forks',
  },
});
