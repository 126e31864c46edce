import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listBenchmarks } from './bench.ts';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('listBenchmarks', () => {
  it('lists train first, then infer, then others by name; skips tests, helpers and scratch files', () => {
    for (const f of ['zeta.ts', 'infer.ts', 'train.ts', 'alpha.ts', 'train.test.ts', '_helpers.ts', 'scratch.mts', 'types.d.ts', 'run.py']) writeFileSync(join(dir, f), '');
    expect(listBenchmarks(dir)).toEqual(['train', 'infer', 'alpha', 'zeta']);
  });
  it('finds the repository benchmarks', () => {
    expect(listBenchmarks()).toEqual(expect.arrayContaining(['train', 'infer', 'recurrent']));
  });
});
