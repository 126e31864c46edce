/**
 * Stuck backends (issue 7, item 4), end to end through the real CLI: a hung or crashed onnxruntime child (the
 * GRU_ONNX_TEST_FAULT hook) is reported as `error` with its reason under `--timeout`, and the other backends'
 * results still arrive; SIGINT during a browser-wasm verify exits 130 leaving no Chromium process and no
 * temporary file (the child gets a private TMPDIR, so both can be checked without seeing other runs').
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint, initParams, Rng } from '@gru-onnx/model';
import { exportSeedModel } from '@gru-onnx/onnx';
import { createRunner, verifyModel, type BackendName, type Probe, type Runner } from '@gru-onnx/verify';
import { ROOT, type CliResult } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-stuck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = { inputSize: 3, hiddenSize: 4, outputSize: 2 };
const params = initParams(config, new Rng(5));
const weights = join(dir, 'w.safetensors');
const model = join(dir, 'm.onnx');
writeFileSync(weights, encodeCheckpoint({ config, params, metadata: {} }));
writeFileSync(model, exportSeedModel(params, { form: 'fused' }));

/** Starts the CLI with extra environment; `onStderr` sees stderr as it arrives. */
function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/bin.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

interface JsonReport {
  backends: { name: string; status: string; reason?: string; cases: { status: string }[] }[];
  summary: { exitCode: number };
}

describe('a stuck or crashed backend is an error; the others still report', () => {
  for (const fault of ['hang', 'crash'] as const) {
    it(`ort-cpu ${fault}s: error with the reason, reference and ort-wasm still pass`, { timeout: 120_000 }, async () => {
      const t0 = performance.now();
      // The timeout holds for every backend: 10 s leaves ort-wasm's worker start and session room on a loaded
      // 2-core machine (3 s timed it out in a parallel test run), while the hang still costs one timeout only.
      const r = await start(['verify', '--model', model, '--weights', weights, '--backends', 'reference,ort-cpu,ort-wasm', '--shapes', '1x3', '--timeout', '10', '--json'], { GRU_ONNX_TEST_FAULT: `ort-cpu:${fault}` }).done;
      const report = JSON.parse(r.stdout) as JsonReport;
      const by = Object.fromEntries(report.backends.map((b) => [b.name, b]));
      expect(by['ort-cpu']!.status).toBe('error');
      expect(by['ort-cpu']!.reason).toMatch(fault === 'hang' ? /no answer within 10000 ms/ : /SIG|exit|crash/i);
      expect(by.reference!.status).toBe('pass');
      expect(by['ort-wasm']!.status).toBe('pass');
      expect(by['ort-wasm']!.cases.length).toBeGreaterThan(0);
      expect(r.code).toBe(1);
      expect(report.summary.exitCode).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // One timeout for the hung backend (its remaining cases are skipped), not one per case.
      if (fault === 'hang') expect(by['ort-cpu']!.cases.map((c) => c.status)).toEqual(['error', ...by['ort-cpu']!.cases.slice(1).map(() => 'skipped')]);
      expect(performance.now() - t0).toBeLessThan(60_000);
    });
  }
});

describe('a runner that ignores its abort signal entirely', () => {
  /** Never settles, whatever the signal says: the worst a third-party runner can do. */
  const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
  const available: Probe = { available: true, versions: {}, settings: {} };
  const stuck = (name: BackendName, where: 'probe' | 'run' | 'close'): Runner => ({
    name,
    probe: () => (where === 'probe' ? never() : Promise.resolve(available)),
    // Otherwise a correct answer (the reference's), so a stuck close is the only fault.
    run: (job) => (where === 'run' ? never() : createRunner('reference').run(job)),
    close: () => (where === 'close' ? never() : Promise.resolve()),
  });

  it('a probe, run or close that never settles is an error naming the stage; the reference still reports', { timeout: 60_000 }, async () => {
    const t0 = performance.now();
    const report = await verifyModel({
      model: readFileSync(model),
      params,
      runners: [stuck('ort-cpu', 'probe'), stuck('ort-wasm', 'run'), 'reference'],
      shapes: [{ batch: 1, seq: 3 }],
      edgeCases: false,
      timeoutMs: 300,
    });
    const by = Object.fromEntries(report.backends.map((b) => [b.name, b]));
    expect(by['ort-cpu']!.status).toBe('error');
    expect(by['ort-cpu']!.reason).toMatch(/probe timed out.*300 ms/);
    expect(by['ort-wasm']!.status).toBe('error');
    expect(by['ort-wasm']!.reason).toMatch(/run timed out.*300 ms/);
    expect(by.reference!.status).toBe('pass');
    expect(report.summary.exitCode).toBe(1);
    // Each guard fires a little after the runner's own deadline (300 ms + half of it), never minutes later.
    expect(performance.now() - t0).toBeLessThan(10_000);

    const closing = await verifyModel({ model: readFileSync(model), params, runners: [stuck('ort-cpu', 'close'), 'reference'], shapes: [{ batch: 1, seq: 3 }], edgeCases: false, timeoutMs: 300 });
    expect(closing.backends[0]!.status).toBe('error');
    expect(closing.backends[0]!.reason).toMatch(/close failed: close timed out/);
    expect(closing.backends[1]!.status).toBe('pass');
  });
});

/** Processes whose command line mentions `needle` (e.g. a private TMPDIR Chromium's profile lives under). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
    } catch (err) {
      // The process ended between listing and reading: not one of ours.
      if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'ESRCH')) continue;
      throw err;
    }
    if (cmd.includes(needle)) pids.push(Number(e));
  }
  return pids;
}

describe('SIGINT', () => {
  const commands: Record<string, (out: string) => string[]> = {
    'verify --backends browser-wasm': (out) => ['verify', '--model', model, '--weights', weights, '--backends', 'browser-wasm', '--shapes', '1x3,1x10,1x64,3x257', '--report', out],
    demo: (out) => ['demo', '--out', out],
  };
  for (const [label, argv] of Object.entries(commands)) {
    it(`stops ${label} once Chromium is up: exit 130, no orphan Chromium, no temporary files`, { timeout: 300_000 }, async () => {
      const privateTmp = mkdtempSync(join(tmpdir(), 'gru-onnx-sigint-'));
      const out = join(dir, `out-${label.split(' ')[0]}`);
      try {
        const run = start(argv(out), { TMPDIR: privateTmp });
        // Interrupt once Chromium is up (its profile lives under the private TMPDIR).
        const t0 = performance.now();
        while (processesMentioning(privateTmp).length === 0) {
          if (performance.now() - t0 > 240_000) throw new Error(`Chromium never started:\n${run.stderr()}`);
          if (run.child.exitCode !== null) throw new Error(`${label} ended before Chromium started:\n${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 300));
        run.child.kill('SIGINT');
        const r = await run.done;
        expect(r.code).toBe(130);
        expect(r.stderr).toMatch(/^error: interrupted$/m);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        // Give a dying process group a moment, then nothing of this run may be left.
        await new Promise((res) => setTimeout(res, 500));
        expect(processesMentioning(privateTmp)).toEqual([]);
        // tsx-N/ is the dev loader's compile cache (`node --import tsx`), not a file gru-onnx made.
        expect(readdirSync(privateTmp).filter((e) => !/^tsx-\d+$/.test(e))).toEqual([]);
        // An interrupted run writes no report, and no temporary file is left in the output directory.
        const left = existsSync(out) ? readdirSync(out, { recursive: true }).map(String) : [];
        expect(left.filter((f) => /report\.(json|md|html)$/.test(f))).toEqual([]);
        expect(left.filter((f) => /\.tmp-|\.old-/.test(f))).toEqual([]);
      } finally {
        for (const pid of processesMentioning(privateTmp)) process.kill(pid, 'SIGKILL');
        rmSync(privateTmp, { recursive: true, force: true });
      }
    });
  }
});
