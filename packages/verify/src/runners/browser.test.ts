import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceForward } from '@gru-onnx/model';
import type { Job } from '../runner.ts';
import { fallbackOps } from '../placement.ts';
import { chromiumMissing, chromiumPath, liveChromiumCount } from '../browser/chromium.ts';
import { createBrowserWasmRunner } from './browser-wasm.ts';
import { WEBGPU_EP, createBrowserWebgpuRunner } from './browser-webgpu.ts';
import { randomParams, seedGruModel } from './tiny-models.ts';
import { float32Data } from '../tensor.ts';

/**
 * Few launches on purpose (each costs ~1–2 s on the 2-core CI machine). Every Chromium these tests start has
 * its user-data-dir under a temporary directory of this file's own (via TMPDIR), so counting processes whose
 * command line names that directory counts exactly ours, whatever else runs on the machine.
 */
const base = mkdtempSync(join(tmpdir(), 'gru-onnx-browser-test-'));
const savedTmp = process.env.TMPDIR;
beforeAll(() => {
  process.env.TMPDIR = base;
});
afterAll(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  delete process.env.GRU_ONNX_TEST_FAULT;
  rmSync(base, { recursive: true, force: true });
});

/** Live (non-zombie) processes whose command line mentions `marker`. */
function processesWith(marker: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) n++;
    } catch (err) {
      // The process ended while we looked.
      if (!(err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'ESRCH'))) throw err;
    }
  }
  return n;
}
/**
 * Chromium's leftovers: our profile roots, its own org.chromium.* temporary directories, or playwright's
 * playwright-artifacts-* (which a SIGINT used to outpace: playwright removes it asynchronously on disconnect).
 */
const profileDirs = () => readdirSync(base).filter((d) => /chrom|playwright/i.test(d));

const config = { inputSize: 3, hiddenSize: 4, outputSize: 2 };
const params = randomParams(config, 11);
const [B, T] = [2, 6];
const x = Float32Array.from({ length: B * T * config.inputSize }, (_, i) => Math.cos(0.3 * i));
const job: Job = { model: seedGruModel(params), params, feeds: { x: { dims: [B, T, config.inputSize], data: x } }, outputNames: ['logits', 'hidden_states', 'h_n_out'] };
const expected = referenceForward(params, x, B, T);
const agrees = (a: Float32Array, e: Float64Array) => a.length === e.length && a.every((v, i) => Math.abs(v - e[i]!) <= 1e-5 + 1e-4 * Math.abs(e[i]!));

const haveChromium = chromiumMissing(chromiumPath()) === undefined;

test('without Chromium, both browser runners say unavailable and why, launching nothing', async () => {
  const options = { chromiumPath: '/nonexistent/chromium' };
  for (const r of [createBrowserWasmRunner(options), createBrowserWebgpuRunner(options)]) {
    const probe = await r.probe();
    expect(probe).toMatchObject({ available: false, reason: 'Chromium not found at /nonexistent/chromium' });
    if (!probe.available) expect(probe.enable).toMatch(/GRU_ONNX_CHROMIUM/);
    await r.close();
  }
  const saved = process.env.GRU_ONNX_CHROMIUM;
  process.env.GRU_ONNX_CHROMIUM = '/nonexistent/chromium-from-env';
  try {
    expect(await createBrowserWasmRunner().probe()).toMatchObject({ available: false, reason: 'Chromium not found at /nonexistent/chromium-from-env' });
  } finally {
    if (saved === undefined) delete process.env.GRU_ONNX_CHROMIUM;
    else process.env.GRU_ONNX_CHROMIUM = saved;
  }
  expect(liveChromiumCount()).toBe(0);
});

test('without playwright-core, unavailable and why', async () => {
  const r = createBrowserWasmRunner({
    resolveModule: (s) => {
      if (s === 'playwright-core') throw new Error('simulated');
      return import.meta.resolve(s);
    },
  });
  expect(await r.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/playwright-core is not installed/) });
});

describe.skipIf(!haveChromium)('in Chromium', () => {
  test('browser-wasm runs the GRU, agrees with the reference, and a hung run is killed at its timeout', async () => {
    const r = createBrowserWasmRunner({ timeoutMs: 20_000 });
    try {
      const probe = await r.probe();
      expect(probe).toMatchObject({ available: true, settings: { executionProvider: 'wasm' } });
      const out = await r.run(job);
      expect(agrees(float32Data(out.outputs.logits!), expected.logits)).toBe(true);
      expect(agrees(float32Data(out.outputs.hidden_states!), expected.hiddenStates)).toBe(true);
      expect(out.placements.find((p) => p.opType === 'GRU')).toMatchObject({ ep: 'CPUExecutionProvider' });
      expect(out.settings).toMatchObject({ numThreads: 1, simd: true, crossOriginIsolated: true, wasm: expect.stringMatching(/^ort-wasm-simd-threaded.*\.wasm$/) });
      expect(processesWith(base)).toBeGreaterThan(0);

      expect(out.sessionMs).toBeGreaterThan(0);

      // The page keeps one session per model: another model, then the first at another shape, each answer its own;
      // a session is made only when the model changes.
      const params2 = randomParams(config, 12);
      const x2 = x.subarray(0, 1 * 4 * config.inputSize);
      for (const [p, b, t, xs, creates] of [[params2, B, T, x, true], [params, 1, 4, x2, true], [params, B, T, x, false]] as const) {
        const again = await r.run({ ...job, model: p === params ? job.model : seedGruModel(p), params: p, feeds: { x: { dims: [b, t, config.inputSize], data: xs } } });
        const want = referenceForward(p, xs, b, t);
        expect(agrees(float32Data(again.outputs.logits!), want.logits)).toBe(true);
        expect(agrees(float32Data(again.outputs.hidden_states!), want.hiddenStates)).toBe(true);
        expect(again.placements.find((q) => q.opType === 'GRU')).toMatchObject({ ep: 'CPUExecutionProvider' });
        expect(again.sessionMs !== undefined).toBe(creates);
      }

      process.env.GRU_ONNX_TEST_FAULT = 'browser-wasm:hang';
      const hung = createBrowserWasmRunner({ timeoutMs: 4000 });
      const t0 = Date.now();
      await expect(hung.run(job)).rejects.toThrow(/browser-wasm: no answer within 4000 ms/);
      expect(Date.now() - t0).toBeLessThan(15_000);
      await hung.close();
    } finally {
      delete process.env.GRU_ONNX_TEST_FAULT;
      await r.close();
      await r.close(); // idempotent
    }
    expect(processesWith(base)).toBe(0);
    expect(profileDirs()).toEqual([]);
    expect(liveChromiumCount()).toBe(0);
  });

  test('a browser that dies mid-run is an error, and nothing is left behind', async () => {
    process.env.GRU_ONNX_TEST_FAULT = 'browser-wasm:crash';
    const r = createBrowserWasmRunner({ timeoutMs: 20_000 });
    try {
      await expect(r.run(job)).rejects.toThrow(/^browser-wasm: /);
    } finally {
      delete process.env.GRU_ONNX_TEST_FAULT;
      await r.close();
    }
    expect(processesWith(base)).toBe(0);
    expect(profileDirs()).toEqual([]);
  });

  test('SIGINT during a run leaves no Chromium and no profile directory', async () => {
    const script = [
      "import { createBrowserWasmRunner } from './packages/verify/src/runners/browser-wasm.ts';",
      "import { randomParams, seedGruModel } from './packages/verify/src/runners/tiny-models.ts';",
      'const p = randomParams({ inputSize: 3, hiddenSize: 4, outputSize: 2 }, 1);',
      'const r = createBrowserWasmRunner({ timeoutMs: 60000 });',
      "if (!(await r.probe()).available) throw new Error('no browser');",
      "process.stdout.write('READY\\n');",
      "await r.run({ model: seedGruModel(p), feeds: { x: { dims: [1, 1, 3], data: new Float32Array(3) } }, outputNames: ['logits'] });",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, TMPDIR: base, GRU_ONNX_TEST_FAULT: 'browser-wasm:hang' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('READY') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
    });
    expect(processesWith(base)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500)); // the run is in flight, the page stuck
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    expect(processesWith(base)).toBe(0);
    expect(profileDirs()).toEqual([]);
  });

  test('browser-webgpu says where GRU ran', async () => {
    const r = createBrowserWebgpuRunner({ timeoutMs: 30_000 });
    try {
      const probe = await r.probe();
      expect(probe).toMatchObject({ available: true });
      if (!probe.available) return;
      expect(probe.settings.webgpuAdapter).toMatch(/swiftshader/i);
      const out = await r.run(job);
      const gru = out.placements.find((p) => p.opType === 'GRU');
      expect(gru?.ep).toMatch(/^(WebGpuExecutionProvider|CPUExecutionProvider)$/);
      // Whatever the EP, fallbackOps must agree with the placement it read.
      expect(fallbackOps(out.placements, WEBGPU_EP).includes('GRU')).toBe(gru!.ep !== WEBGPU_EP);
      expect(agrees(float32Data(out.outputs.logits!), expected.logits)).toBe(true);
      expect(out.settings).toMatchObject({ executionProvider: 'webgpu', placementSource: expect.stringMatching(/verbose log/) });
    } finally {
      await r.close();
    }
    expect(processesWith(base)).toBe(0);
  });
});
