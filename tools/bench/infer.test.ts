import { describe, expect, it } from 'vitest';
import { exportSeedModel } from '@gru-onnx/onnx';
import { exportTunedSeedModel } from '../../packages/onnx/src/export-seed.ts';
import { benchmark, formatTable, readFixtureWeights, seq20Check } from './infer.ts';

describe("inference bench (tiny rounds: it runs and reports; the numbers are the bench's job)", () => {
  const params = readFixtureWeights();

  it('times every candidate at every batch and prints each ratio against the faster baseline', async () => {
    const candidates = [
      { name: 'fused node', bytes: exportTunedSeedModel(params, { form: 'fused' }, { fusedEmptyGuard: false }), baseline: true },
      { name: 'auto', bytes: exportSeedModel(params), baseline: false },
    ];
    const rows = await benchmark(candidates, { batches: [1, 3], rounds: 1, roundMs: 5 });
    expect(rows.map((r) => r.batch)).toEqual([1, 3]);
    for (const r of rows) for (const c of candidates) expect(r.us[c.name]).toBeGreaterThan(0);
    const table = formatTable(candidates, rows).split('\n');
    expect(table[0]).toBe('| batch | fused node µs | auto µs | auto ÷ faster baseline |');
    const ratio = (rows[0]!.us.auto! / rows[0]!.us['fused node']!).toFixed(2);
    expect(table[2]).toMatch(new RegExp(`^\\| 1 \\| [\\d.]+ \\| [\\d.]+ \\| ${ratio.replace('.', '\\.')}× \\|$`));
  });

  // The reason the bench exists: PyTorch's exporter fixed seq at 10; the default export is exact at 20.
  it("finds PyTorch's traced graph wrong at seq 20 (it ran 10 steps) and the default export exact", async () => {
    const c = await seq20Check(params, exportSeedModel(params));
    expect(c.pytorchErr).toBeGreaterThan(0.1);
    expect(c.pytorchVsFirst10).toBeLessThan(1e-5);
    expect(c.oursErr).toBeLessThan(1e-5);
  });
});
