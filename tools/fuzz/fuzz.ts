/**
 * Seeded fuzzer for every file gru-onnx reads (see README.md):
 *   npx tsx tools/fuzz/fuzz.ts --cases 2000 --seed 1
 *   npx tsx tools/fuzz/fuzz.ts --long                  # 100 000 cases
 *   npx tsx tools/fuzz/fuzz.ts --seed 1 --only 417     # reproduce one case
 * Exits 1 when any case breaks the contract (exit 0/1/2, one `error:` line, under 5 s, no stack trace).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, runFuzz } from './harness.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    long: { type: 'boolean', default: false },
    only: { type: 'string' },
    'ort-budget': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
const num = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name}: '${v}' is not a non-negative integer`);
  return n;
};
const opts = {
  cases: num('cases', values.cases),
  seed: num('seed', values.seed),
  long: values.long,
  only: values.only?.split(',').map((v) => num('only', v)),
  ortBudget: values['ort-budget'] !== undefined ? num('ort-budget', values['ort-budget']) : undefined,
};

const cases = opts.long ? 100_000 : opts.cases;
let last = 0;
const summary = await runFuzz({
  cases,
  seed: opts.seed,
  workDir: join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `gru-onnx-fuzz-${process.pid}`),
  ...(opts.only ? { only: opts.only } : {}),
  ...(opts.ortBudget !== undefined ? { ortBudget: opts.ortBudget } : {}),
  onProgress: (done, total) => {
    if (done - last >= 1000 || done === total) {
      last = done;
      process.stderr.write(`${done}/${total}\n`);
    }
  },
});
console.log(formatSummary(summary, values.verbose));
process.exit(summary.failures.length > 0 ? 1 : 0);
