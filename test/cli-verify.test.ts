import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, probeAll, type Report } from '@gru-onnx/verify';
import { runCli } from './cli-helpers.ts';

const WEIGHTS = 'fixtures/model/pytorch-seed.safetensors';
const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-verify-'));
const model = join(dir, 'model.onnx');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const r = await runCli(['export', '--weights', WEIGHTS, '--out', model, '--hidden-states']);
  expect(r.code, r.stderr).toBe(0);
});

// Fast backends and a small sweep: this file checks the command's wiring, not the runners.
const QUICK = ['--backends', 'reference,ort-cpu', '--shapes', '1x3,2x5'];

describe('gru-onnx verify (spawned)', () => {
  it('passes, prints the JSON report on stdout only, writes the report files and a bundle that verifies again', async () => {
    const report = join(dir, 'report');
    const bundle = join(dir, 'bundle');
    const r = await runCli(['verify', '--model', model, '--weights', WEIGHTS, ...QUICK, '--json', '--report', report, '--save-bundle', bundle]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.backends.map((b) => [b.name, b.status])).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
    expect(doc.input.shapes).toEqual([{ batch: 1, seq: 3 }, { batch: 2, seq: 5 }]);
    expect(JSON.parse(readFileSync(join(report, 'report.json'), 'utf8'))).toMatchObject({ summary: { exitCode: 0 } });
    expect(loadBundle(bundle).cases).toHaveLength(doc.cases.length);

    const again = await runCli(['verify', '--bundle', bundle, '--backends', 'ort-cpu']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^PASS \(exit 0\)/m);
  });

  it('a mismatch is exit 1 (zero tolerance: float32 never equals the float64 reference everywhere)', async () => {
    const r = await runCli(['verify', '--model', model, '--weights', WEIGHTS, '--backends', 'ort-cpu', '--shapes', '2x5', '--atol', '0', '--rtol', '0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL \(exit 1\)/m);
  });

  it('a required backend that is unavailable is exit 3', async () => {
    const [cuda] = await probeAll(['ort-cuda']);
    const r = await runCli(['verify', '--model', model, '--weights', WEIGHTS, ...QUICK, '--require', 'ort-cuda']);
    expect(r.code).toBe(cuda!.probe.available ? 0 : 3);
  });

  // Every export routes an empty x around onnxruntime's GRU, which would abort the process; the PyTorch exporter's
  // graph has no such guard, so the same sweep fails for it: the check can fail.
  it('empty inputs (seq 0, batch 0) pass on every CPU backend for our export, and fail for PyTorch\'s graph', async () => {
    const empty = ['--backends', 'reference,tfjs,ort-cpu,ort-wasm', '--shapes', '1x0,0x3,0x0', '--json'];
    const r = await runCli(['verify', '--model', model, '--weights', WEIGHTS, ...empty]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.backends.map((b) => [b.name, b.status])).toEqual([['reference', 'pass'], ['tfjs', 'pass'], ['ort-cpu', 'pass'], ['ort-wasm', 'pass']]);
    const pt = await runCli(['verify', '--model', 'fixtures/pytorch-export/model.onnx', '--weights', 'fixtures/pytorch-export/weights.safetensors', ...empty]);
    expect(pt.code, pt.stderr).toBe(1);
  });

  it('a checkpoint that does not match the model: exit 2, one error line', async () => {
    const r = await runCli(['verify', '--model', model, '--weights', 'fixtures/pytorch/l1-uni-bf.safetensors', ...QUICK]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: [^\n]+\n$/);
  });
});
