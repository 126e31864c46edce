/**
 * Determinism (issue 7, item 5): the same seed and inputs give byte-identical files from two separate runs of
 * train → export → verify (checkpoint, model, generated inputs and reference outputs in the bundle, report.md,
 * report.html). report.json differs only in the named fields `generatedAt` and `timing` (wall-clock values).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'gru-onnx-determinism-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The fields allowed to differ between runs: when the report was made, and how long things took. */
const VOLATILE_FIELDS = ['generatedAt', 'timing'] as const;

function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !(VOLATILE_FIELDS as readonly string[]).includes(k)).map(([k, v]) => [k, withoutVolatile(v)]));
}

async function pipeline(dir: string): Promise<void> {
  mkdirSync(dir);
  const ckpt = join(dir, 'ckpt.safetensors');
  const model = join(dir, 'model.onnx');
  for (const args of [
    ['train', '--out', ckpt, '--samples', '256', '--epochs', '2', '--seed', '3'],
    ['export', '--weights', ckpt, '--out', model, '--form', 'auto', '--hidden-states'],
    ['verify', '--model', model, '--weights', ckpt, '--backends', 'reference,ort-cpu', '--shapes', '1x3,2x5', '--seed', '9', '--report', join(dir, 'report'), '--save-bundle', join(dir, 'bundle')],
  ]) {
    const r = await runCli(args);
    expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
  }
}

const files = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();

describe('determinism', () => {
  it('two runs of train → export → verify give the same bytes, except the named volatile report fields', { timeout: 300_000 }, async () => {
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    await pipeline(a);
    await pipeline(b);
    expect(files(b)).toEqual(files(a));
    expect(files(a)).toEqual(expect.arrayContaining(['ckpt.safetensors', 'model.onnx', 'report/report.md', 'report/report.html', 'bundle/test_data_set_0/input_0.pb']));
    for (const f of files(a)) {
      if (f === 'report/report.json') continue;
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), `${f} differs between runs`).toBe(true);
    }
    const [ja, jb] = [a, b].map((d) => JSON.parse(readFileSync(join(d, 'report/report.json'), 'utf8')) as Record<string, unknown>);
    expect(withoutVolatile(jb)).toEqual(withoutVolatile(ja));
    // The volatile fields exist and are where the schema names them, so removing them is not vacuous.
    expect(typeof ja!.generatedAt).toBe('string');
    expect(ja!.timing).toBeDefined();
  });
});
