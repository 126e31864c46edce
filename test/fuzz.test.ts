/**
 * The fuzzer in CI (tools/fuzz): 2 000 seeded mutations of checkpoints, PyTorch state_dicts, tfjs model.json
 * files, ONNX models and bundles through `inspect`, `export` and `verify`. Every run must exit 0, 1 or 2 with one
 * `error:` line, under 5 s, without a stack trace or an uncaught exception. The long mode (100 000) is
 * `npx tsx tools/fuzz/fuzz.ts --long`.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contractViolation, formatSummary, runFuzz } from '../tools/fuzz/harness.ts';

const CASES = Number(process.env.GRU_ONNX_FUZZ_CASES ?? 2000);
const workDir = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `gru-onnx-fuzz-test-${process.pid}`);

describe('fuzz', () => {
  it('the contract check catches each way a run can break it', () => {
    const ok = { argv: [], code: 2, ms: 5, stdout: '', stderr: 'error: x.onnx: truncated\n' };
    expect(contractViolation(ok, 5000)).toBeUndefined();
    expect(contractViolation({ ...ok, code: 0, stderr: 'ort-cpu: pass\n' }, 5000)).toBeUndefined();
    expect(contractViolation({ ...ok, code: 70, stderr: 'error: internal: boom\n' }, 5000)).toMatch(/exit 70/);
    expect(contractViolation({ ...ok, stderr: 'error: a\nerror: b\n' }, 5000)).toMatch(/exactly one/);
    expect(contractViolation({ ...ok, stderr: 'error: a\n    at f (x.ts:1:2)\n' }, 5000)).toMatch(/stack trace|exactly one/);
    expect(contractViolation({ ...ok, code: 1, stderr: 'x\n    at Object.<anonymous> (/a/b.ts:3:4)\n' }, 5000)).toMatch(/stack trace/);
    expect(contractViolation({ ...ok, ms: 5001 }, 5000)).toMatch(/over the 5000 ms limit/);
    expect(contractViolation({ ...ok, code: -1 }, 5000)).toMatch(/hang/);
    expect(contractViolation({ ...ok, code: 3 }, 5000)).toMatch(/exit 3/);
  });

  it('is reproducible: the same seed gives the same runs and verdicts', async () => {
    const [a, b] = [await runFuzz({ cases: 150, seed: 5, workDir }), await runFuzz({ cases: 150, seed: 5, workDir })];
    expect(b.exits).toEqual(a.exits);
    expect(b.targets).toEqual(a.targets);
    expect(b.mismatches).toEqual(a.mismatches);
    const c = await runFuzz({ cases: 150, seed: 6, workDir });
    expect(c.targets).not.toEqual(a.targets);
  }, 120_000);

  it(`${CASES} seeded cases keep the contract`, async () => {
    const summary = await runFuzz({ cases: CASES, seed: 1, workDir, ortBudget: Math.max(3, Math.ceil(CASES / 20)) });
    console.log(formatSummary(summary));
    expect(summary.cases).toBe(CASES);
    expect(summary.failures.map((f) => `case ${f.index} (${f.target}, ${f.mutation}): ${f.why}`)).toEqual([]);
    // Every target and every exit the contract allows is reached: a fuzzer stuck on one path would pass vacuously.
    for (const n of Object.values(summary.targets)) expect(n).toBeGreaterThan(CASES / 20);
    expect(summary.exits['0']).toBeGreaterThan(0);
    expect(summary.exits['1']).toBeGreaterThan(0);
    expect(summary.exits['2']).toBeGreaterThan(CASES / 4);
    // An exit 1 is a real mismatch: the report says which backend failed and why.
    for (const m of summary.mismatches) expect(m.message).toMatch(/^\S+: (fail|error) \(/);
  }, 300_000);
});
