/**
 * Mutation testing of one module (tools/mutation/modules.ts) with StrykerJS: mutates only its files, runs only
 * its tests, with concurrency 2 (the CI machine has two cores). The HTML report goes to reports/mutation/index.html.
 *
 *   pnpm mutate:compare        (or: npx tsx tools/mutation/run.ts compare [--concurrency N] [--incremental])
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { MODULES } from './modules.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: { concurrency: { type: 'string', default: '2' }, incremental: { type: 'boolean', default: false } },
});
const name = positionals[0] ?? '';
const module = MODULES[name];
if (!module || positionals.length !== 1) {
  console.error(`error: name one module: ${Object.keys(MODULES).join(', ')}`);
  process.exit(2);
}
const r = spawnSync(
  'npx',
  [
    'stryker',
    'run',
    'tools/mutation/stryker.config.json',
    '--mutate',
    module.mutate.join(','),
    '--concurrency',
    values.concurrency,
    // One sandbox folder per module, so two modules can run side by side.
    '--tempDirName',
    `.stryker-tmp/${name}`,
    // Reuses the last run's results for unchanged code and tests: quicker reruns while killing survivors.
    ...(values.incremental ? ['--incremental', '--incrementalFile', `reports/mutation/${name}.incremental.json`] : []),
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, GRU_ONNX_MUTATION_TESTS: module.tests.join(','), GRU_ONNX_MUTATION_SKIP: module.skip?.source ?? '' },
  },
);
process.exit(r.status ?? 1);
