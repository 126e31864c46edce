// Lint runs as part of the test command; recommended rules plus the habits in STYLE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'packages/*/dist/**', 'packs/**', 'gru-onnx-out/**', 'fixtures/**', 'tools/cuda/out/**', '.cuda-stage/**', 'test/.readme-tmp/**', '.stryker-tmp/**', 'reports/**', '**/*.js', '**/generated/**', '!eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Library code reports through return values and the CLI; only scripts, tools and tests print.
    files: ['packages/{model,onnx,verify}/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
);
