import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { main, parseTrainArgs } from './train.ts';

function hasTorch(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // no /usr/bin/python3, or no torch in it: the baseline case is skipped
  }
}

describe('training bench (tiny sizes: it runs and reports; the numbers are the bench\'s job)', () => {
  it('measures each tfjs backend and says when the PyTorch baseline is unavailable', async () => {
    const lines: string[] = [];
    const r = await main({ samples: 200, cpuSamples: 50, epochs: 2, skipPytorch: true, print: (l) => lines.push(l) });
    expect(r.rows.map((row) => row.name)).toEqual(['tfjs-wasm', 'tfjs-cpu']);
    for (const row of r.rows) {
      expect(row.samplesPerSecond).toBeCloseTo((row.samples * 2) / row.seconds, 6);
      expect(row.cpuSeconds).toBeGreaterThan(0);
    }
    expect(r.wasmVsPytorch).toBeUndefined();
    expect(lines.at(-1)).toBe('PyTorch baseline unavailable: skipped (--skip-pytorch)');
  });

  it.skipIf(!hasTorch())('runs the seed PyTorch code in the same run and prints the ratio', async () => {
    const lines: string[] = [];
    const r = await main({ samples: 200, epochs: 2, skipCpu: true, print: (l) => lines.push(l) });
    const torch = r.rows.find((row) => row.name.includes('1 thread'))!;
    expect(torch.samples).toBe(200);
    expect(r.wasmVsPytorch).toBeCloseTo(r.rows[0]!.samplesPerSecond / torch.samplesPerSecond, 9);
    expect(lines.at(-2)).toMatch(/^tfjs-wasm vs PyTorch \(seed code, 1 thread, same run\): \d+\.\d\d× the samples\/s by wall time, \d+\.\d\d× by CPU time/);
  });
});

describe('parseTrainArgs', () => {
  it('reads numbers and flags, and refuses unknown options and non-positive counts by name', () => {
    expect(parseTrainArgs(['--samples', '64', '--seq-len=5', '--skip-cpu'])).toEqual({ samples: 64, seqLen: 5, skipCpu: true });
    expect(() => parseTrainArgs(['--sample', '3'])).toThrow(/--sample/);
    expect(() => parseTrainArgs(['--epochs', '0'])).toThrow("--epochs needs a positive integer, not '0'");
    expect(() => parseTrainArgs(['--epochs'])).toThrow(/--epochs/);
  });
});
