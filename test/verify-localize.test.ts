/**
 * verify --localize end to end (issue 16): the CLI on a real ort-cpu vs ort-wasm divergence (fixtures/localize),
 * with the repro folder written into the report directory and replayable as a bundle.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.ts';

const FIXTURE = new URL('../fixtures/localize/nll-loss-7d-ort-wasm/', import.meta.url).pathname;

describe('verify --localize (CLI)', () => {
  it('names the node, writes repro-ort-wasm/ into --report, and that folder fails again on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-localize-cli-'));
    const r = await runCli(['verify', '--bundle', FIXTURE, '--backends', 'ort-cpu,ort-wasm', '--localize', '--report', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/localize: ort-wasm vs ort-cpu \(test_data_set_0\): first node out of tolerance: NegativeLogLikelihoodLoss/);
    expect(r.stdout).toContain('repro: reproduces alone');
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { backends: { localization?: { repro?: { dir?: string } } }[] };
    expect(json.backends[1]!.localization!.repro!.dir).toBe(join(dir, 'repro-ort-wasm'));
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Where each failing backend first diverges');
    expect(existsSync(join(dir, 'repro-ort-wasm', 'model.onnx'))).toBe(true);
    // The folder is a bundle as it is: replayed, ort-wasm fails against the stored (ort-cpu) outputs.
    const again = await runCli(['verify', '--bundle', join(dir, 'repro-ort-wasm'), '--backends', 'ort-cpu,ort-wasm']);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/ort-cpu\s+pass/);
    expect(again.stdout).toMatch(/ort-wasm\s+fail/);
  }, 120_000);
});
