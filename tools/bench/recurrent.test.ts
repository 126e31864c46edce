import { describe, expect, it } from 'vitest';
import { formatRecurrentTable, runRecurrentBench, TARGET_RATIO } from './recurrent.ts';

describe("recurrent-import bench (tiny sizes: it runs and reports; the numbers are the bench's job)", () => {
  it('imports PyTorch-written weights, checks each form against PyTorch, and times every variant beside PyTorch', async () => {
    const lines: string[] = [];
    const res = await runRecurrentBench({ cells: ['lstm', 'gru'], inputSize: 3, hiddenSize: 4, numLayers: 2, outputSize: 2, seq: 7, batches: [1, 3], rounds: 2, torchRounds: 1, sampleMs: 1, print: (l) => lines.push(l) });
    expect(res.exports.map((e) => [e.cell, e.kind])).toEqual([['lstm', 'pytorch-lstm'], ['gru', 'pytorch-gru']]);
    // The same module and weights on both sides: a mapping or weight mistake shows here, not as a slow row.
    for (const e of res.exports) {
      for (const v of ['default', 'fused', 'scan'] as const) {
        expect(e.variants[v]).toHaveProperty('bytes');
        expect(e.parity[v]).toBeLessThan(1e-5);
      }
    }
    expect(res.rows.map((r) => [r.cell, r.batch])).toEqual([['lstm', 1], ['lstm', 3], ['gru', 1], ['gru', 3]]);
    for (const r of res.rows) {
      for (const v of ['default', 'fused', 'scan'] as const) expect(r.ms[v]).toBeGreaterThan(0);
      expect(r.torchMs).toBeGreaterThan(0);
      expect(r.torchVsDefault).toBeCloseTo(r.torchMs! / r.ms.default!, 12);
      expect(r.defaultVsBest).toBeCloseTo(r.ms.default! / Math.min(r.ms.fused ?? Infinity, r.ms.scan ?? Infinity), 12);
      expect(r.defaultVsBestCpu).toBeCloseTo(r.cpuMs.default! / Math.min(r.cpuMs.fused ?? Infinity, r.cpuMs.scan ?? Infinity), 12);
      expect(r.torchCpuMs).toBeGreaterThan(0);
      expect(r.torchVsDefaultCpu).toBeCloseTo(r.torchCpuMs! / r.cpuMs.default!, 12);
    }
    expect(res.torch?.threads).toBe(1);
  });

  it('prints each ratio and the target verdict on the clock asked for', () => {
    const rows = [
      { cell: 'lstm', batch: 1, ms: { default: 10.5, fused: 10, scan: 30 }, cpuMs: { default: 9, fused: 9.5, scan: 20 }, torchMs: 300, torchCpuMs: 290, defaultVsBest: 1.05, defaultVsBestCpu: 9 / 9.5, torchVsDefault: 300 / 10.5, torchVsDefaultCpu: 290 / 9 },
      { cell: 'gru', batch: 64, ms: { default: 600, fused: 700, scan: 500 }, cpuMs: { default: 600 }, defaultVsBest: 1.2 },
    ] as const;
    const wall = formatRecurrentTable(rows, 'wall').split('\n');
    const cpu = formatRecurrentTable(rows, 'cpu').split('\n');
    expect(TARGET_RATIO).toBe(1.05);
    expect(wall[2]).toBe('| LSTM | 1 | 10.5 | 10.0 | 30.0 | 300 | 1.05× | met | 28.6× |');
    expect(wall[3]).toBe('| GRU | 64 | 600 | 700 | 500 | n/a | 1.20× | NOT met | n/a |');
    expect(cpu[2]).toBe('| LSTM | 1 | 9.00 | 9.50 | 20.0 | 290 | 0.95× | met | 32.2× |');
    expect(cpu[3]).toBe('| GRU | 64 | 600 | n/a | n/a | n/a | n/a | n/a | n/a |');
  });
});
