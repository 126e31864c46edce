import { describe, expect, it } from 'vitest';
import { formatRecurrentTable, runRecurrentBench, TARGET_RATIO } from './recurrent.ts';

describe("recurrent-import bench (tiny sizes: it runs and reports; the numbers are the bench's job)", () => {
  it('imports PyTorch-written weights, checks each form against PyTorch, and times every variant beside PyTorch', async () => {
    const lines: string[] = [];
    const res = await runRecurrentBench({ cells: ['gru'], inputSize: 3, hiddenSize: 4, numLayers: 2, outputSize: 2, seq: 7, batches: [1, 3], rounds: 2, torchRounds: 1, sampleMs: 1, print: (l) => lines.push(l) });
    expect(res.exports.map((e) => [e.cell, e.kind])).toEqual([['gru', 'pytorch-gru']]);
    // The same module and weights on both sides: a mapping or weight mistake shows here, not as a slow row.
    for (const e of res.exports) {
      expect(e.parity.default).toBeLessThan(1e-5);
      expect(e.parity.fused).toBeLessThan(1e-5);
    }
    expect(res.rows.map((r) => [r.cell, r.batch])).toEqual([['gru', 1], ['gru', 3]]);
    for (const r of res.rows) {
      expect(r.ms.default).toBeGreaterThan(0);
      expect(r.torchMs).toBeGreaterThan(0);
      expect(r.torchVsDefault).toBeCloseTo(r.torchMs! / r.ms.default!, 12);
      expect(r.defaultVsBest).toBeCloseTo(r.ms.default! / Math.min(r.ms.fused ?? Infinity, r.ms.scan ?? Infinity), 12);
      expect(r.defaultVsBestCpu).toBeCloseTo(r.cpuMs.default! / Math.min(r.cpuMs.fused ?? Infinity, r.cpuMs.scan ?? Infinity), 12);
      expect(r.torchCpuMs).toBeGreaterThan(0);
    }
    expect(res.torch?.threads).toBe(1);
  });

  it('prints each ratio, and the target as met only when both clocks meet it', () => {
    const table = formatRecurrentTable([
      { cell: 'lstm', batch: 1, ms: { default: 10.5, fused: 10, scan: 30 }, cpuMs: {}, torchMs: 300, defaultVsBest: 1.05, defaultVsBestCpu: 1.01, torchVsDefault: 300 / 10.5 },
      { cell: 'gru', batch: 64, ms: { default: 600, fused: 700, scan: 500 }, cpuMs: {}, defaultVsBest: 1.2, defaultVsBestCpu: 1.0 },
      { cell: 'gru', batch: 1, ms: { default: 10 }, cpuMs: {}, defaultVsBest: 1.0, defaultVsBestCpu: 1.06 },
    ]).split('\n');
    expect(TARGET_RATIO).toBe(1.05);
    expect(table[2]).toBe('| LSTM | 1 | 10.5 | 10.0 | 30.0 | 300 | 1.05× | 1.01× | met | 28.6× |');
    expect(table[3]).toBe('| GRU | 64 | 600 | 700 | 500 | n/a | 1.20× | 1.00× | NOT met | n/a |');
    expect(table[4]).toBe('| GRU | 1 | 10.0 | n/a | n/a | n/a | 1.00× | 1.06× | NOT met | n/a |');
  });
});
