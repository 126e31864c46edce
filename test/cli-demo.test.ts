import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, SEED_CONFIG } from '@gru-onnx/model';
import { checkModel, onnx } from '@gru-onnx/onnx';
import { loadBundle } from '@gru-onnx/verify';
import { ROOT, runCli, startCli } from './cli-helpers.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gru-onnx-demo-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file under `dir`, relative; used to show that no temporary file was left behind. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}
const TEMP = /\.tmp|tmp-/;

describe('gru-onnx demo (end to end)', () => {
  it('leaves a valid checkpoint, model, report and bundle, prints the table and ends with the HTML path', { timeout: 900_000 }, async () => {
    const out = tempDir();
    const r = await runCli(['demo', '--out', out]);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.code).toBe(0);

    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => /^Epoch \[\d+\/20\], Loss: \d+\.\d{4}$/.test(l))).toHaveLength(4);
    expect(lines.some((l) => /^Test Accuracy: \d\.\d{4}$/.test(l))).toBe(true);
    expect(r.stdout).toMatch(/^backend +status +max abs/m);
    expect(lines.at(-1)).toBe(join(out, 'report.html'));

    expect(loadCheckpoint(join(out, 'checkpoint.safetensors')).config).toEqual(SEED_CONFIG);

    const model = onnx.ModelProto.decode(readFileSync(join(out, 'model.onnx')));
    expect(checkModel(model)).toEqual([]);
    expect(model.graph!.output!.map((o) => o.name)).toContain('hidden_states');

    const schema = JSON.parse(readFileSync(join(ROOT, 'docs', 'report-schema.json'), 'utf8')) as object;
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/ } });
    const validate = ajv.compile(schema);
    const report: unknown = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(validate(report), ajv.errorsText(validate.errors)).toBe(true);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/^# /);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<html/i);

    expect(loadBundle(join(out, 'bundle')).cases.length).toBeGreaterThan(0);
    expect(listFiles(out).filter((f) => TEMP.test(f))).toEqual([]);
  });

  it('SIGINT stops it cleanly: exit 130, one error line, no temporary files', { timeout: 300_000 }, async () => {
    const out = tempDir();
    const { child, done } = startCli(['demo', '--out', out]);
    // Interrupt once verification is under way (after the export), where browsers and sessions are open.
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stderr!.on('data', (b: Buffer) => {
        seen += b.toString();
        if (/exported /.test(seen)) resolve();
      });
      child.on('close', () => reject(new Error(`demo ended before the export:\n${seen}`)));
    });
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^error: interrupted$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(listFiles(out).filter((f) => TEMP.test(f))).toEqual([]);
    expect(listFiles(out)).not.toContain('report.html');
  });
});
