import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '@gru-onnx/model';
import { main, type Io } from '../index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(onOut?: (s: string) => void) {
  const text = { out: '', err: '' };
  const io: Io = {
    out: (s) => {
      text.out += s;
      onOut?.(s);
    },
    err: (s) => void (text.err += s),
    stderrIsTTY: false,
    stderrStream: process.stderr,
  };
  return { io, text };
}

describe('gru-onnx train (in-process)', () => {
  it("prints the seed's lines on stdout, the backend on stderr, and saves a loadable checkpoint", async () => {
    const out = join(dir, 'small.safetensors');
    const { io, text } = capture();
    const code = await main(['train', '--out', out, '--samples', '64', '--epochs', '10', '--hidden-size', '5', '--backend', 'cpu'], { io });
    expect(code).toBe(0);
    expect(text.out).toMatch(/^Epoch \[5\/10\], Loss: \d\.\d{4}\nEpoch \[10\/10\], Loss: \d\.\d{4}\nTest Accuracy: \d\.\d{4}\n$/);
    expect(text.err).toMatch(/^tfjs backend: cpu/m);
    const ckpt = loadCheckpoint(out);
    expect(ckpt.config).toEqual({ inputSize: 8, hiddenSize: 5, outputSize: 4 });
    expect(JSON.parse(ckpt.metadata.losses!)).toHaveLength(10);
  });

  it('an abort (SIGINT) stops training between epochs: exit 130, no checkpoint, no temporary file', async () => {
    const out = join(dir, 'interrupted.safetensors');
    const controller = new AbortController();
    // Abort when the first seed line (epoch 5) appears; the run asks for far more epochs than it will get.
    const { io, text } = capture(() => controller.abort());
    const code = await main(['train', '--out', out, '--samples', '32', '--epochs', '100000', '--backend', 'cpu'], { io, signal: controller.signal });
    expect(code).toBe(130);
    expect(text.err).toMatch(/^error: interrupted\n$/m);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.interrupted'))).toEqual([]);
  });
});
