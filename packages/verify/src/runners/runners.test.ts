import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { referenceForward } from '@gru-onnx/model';
import { exportSeedModel } from '@gru-onnx/onnx';
import type { Job, Runner } from '../runner.ts';
import { fallbackOps } from '../placement.ts';
import { createRunner, probeAll } from '../registry.ts';
import type { RunnerOptions } from './common.ts';
import { CUDA_PROVIDER_LIBS } from './ort-cuda.ts';
import { findOrtNode } from './ort-cpu.ts';
import { randomParams, scanRnnModel, seedGruModel } from './tiny-models.ts';
import { float32Data } from '../tensor.ts';

const config = { inputSize: 3, hiddenSize: 4, outputSize: 2 };
const params = randomParams(config, 7);
const [B, T] = [2, 5];
const x = Float32Array.from({ length: B * T * config.inputSize }, (_, i) => Math.sin(0.7 * i));
const job: Job = { model: seedGruModel(params), params, feeds: { x: { dims: [B, T, config.inputSize], data: x } }, outputNames: ['logits', 'hidden_states', 'h_n_out'] };
const expected = referenceForward(params, x, B, T);

const missingModule: RunnerOptions = {
  resolveModule: (specifier) => {
    throw new Error(`Cannot find module '${specifier}' (simulated)`);
  },
};

/** Live ort-worker children of `parent` (default: this process); other suites may run workers of their own. */
function liveWorkers(parent = process.pid): number {
  const out = execFileSync('ps', ['-eo', 'ppid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([ppid, stat, ...args]) => Number(ppid) === parent && !stat!.startsWith('Z') && args.join(' ').includes('ort-worker.mjs')).length;
}

/**
 * liveWorkers() once it reaches `n`, or after 3 s. A SIGKILLed child takes a moment to disappear (longer on a
 * loaded machine), so a count taken at once can still see a worker that is already dying; one that was never
 * killed (a hang) stays and still fails the assertion.
 */
async function settledWorkers(n: number): Promise<number> {
  for (let i = 0; i < 30 && liveWorkers() !== n; i++) await new Promise((r) => setTimeout(r, 100));
  return liveWorkers();
}

/** Whether `pid` is a live (non-zombie) process. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return false;
    throw err;
  }
}

const open: Runner[] = [];
afterEach(async () => {
  delete process.env.GRU_ONNX_TEST_FAULT;
  await Promise.all(open.splice(0).map((r) => r.close()));
});
function make(name: string, options: RunnerOptions = {}): Runner {
  const r = createRunner(name, options);
  open.push(r);
  return r;
}

describe.each(['reference', 'tfjs', 'ort-cpu', 'ort-wasm'])('%s', (name) => {
  test('is available and agrees with referenceForward on a tiny GRU', async () => {
    const r = make(name);
    const probe = await r.probe();
    expect(probe).toMatchObject({ available: true });
    const out = await r.run(job);
    expect(out.outputs.logits!.dims).toEqual([B, config.outputSize]);
    expect(out.outputs.hidden_states!.dims).toEqual([B, T, config.hiddenSize]);
    expect(out.outputs.h_n_out!.dims).toEqual([B, config.hiddenSize]);
    const close = (a: Float32Array, e: Float64Array) => a.every((v, i) => Math.abs(v - e[i]!) <= 1e-5 + 1e-4 * Math.abs(e[i]!));
    expect(close(float32Data(out.outputs.logits!), expected.logits)).toBe(true);
    expect(close(float32Data(out.outputs.hidden_states!), expected.hiddenStates)).toBe(true);
    expect(close(float32Data(out.outputs.h_n_out!), expected.hN)).toBe(true);
  });

  test('takes an h0 feed and the exporter’s scan form', async () => {
    const h0 = Float32Array.from({ length: B * config.hiddenSize }, (_, i) => 0.1 * Math.cos(i));
    const model = exportSeedModel(params, { form: 'scan', h0: true, hN: true });
    const out = await make(name).run({ model, params, feeds: { x: { dims: [B, T, config.inputSize], data: x }, h0: { dims: [B, config.hiddenSize], data: h0 } }, outputNames: ['logits', 'h_n'] });
    const e = referenceForward(params, x, B, T, h0);
    const close = (a: Float32Array, ex: Float64Array) => a.every((v, i) => Math.abs(v - ex[i]!) <= 1e-5 + 1e-4 * Math.abs(ex[i]!));
    expect(close(float32Data(out.outputs.logits!), e.logits)).toBe(true);
    expect(close(float32Data(out.outputs.h_n!), e.hN)).toBe(true);
    // h0 matters here: without it the answer differs.
    expect(close(float32Data(out.outputs.h_n!), expected.hN)).toBe(false);
  });

});

describe.each(['tfjs', 'ort-cpu', 'ort-wasm'])('%s', (name) => {
  test('reports unavailable, with the reason, when its library is missing', async () => {
    const probe = await make(name, missingModule).probe();
    expect(probe).toMatchObject({ available: false, reason: expect.stringMatching(/not installed.*simulated/), enable: expect.stringMatching(/install/) });
  });
});

describe('reference', () => {
  test('needs no library: available and running when no module resolves', async () => {
    const r = make('reference', missingModule);
    expect(await r.probe()).toMatchObject({ available: true });
    expect((await r.run(job)).outputs64!.logits!.data).toEqual(expected.logits);
  });

  test('keeps float64 outputs for comparison', async () => {
    const out = await make('reference').run(job);
    expect(out.outputs64!.logits!.data).toEqual(expected.logits);
    expect(out.outputs.logits!.data).toEqual(Float32Array.from(expected.logits));
  });
});

describe('placements', () => {
  test('ort-cpu: GRU ran on CPUExecutionProvider, read from the session profile', async () => {
    const out = await make('ort-cpu').run(job);
    expect(out.settings.placementSource).toBe('onnxruntime profile');
    expect(out.placements).toContainEqual({ node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider' });
    expect(fallbackOps(out.placements, 'CPUExecutionProvider')).toEqual([]);
    expect(fallbackOps(out.placements, 'CUDAExecutionProvider')).toEqual(['GRU', 'Gemm']);
    expect(out.settings.intraOpNumThreads).toBe(1);
  });

  test('ort-cpu: a Scan body’s nodes are reported too', async () => {
    const H = 2;
    const model = scanRnnModel(new Float32Array(3 * H).fill(0.1), new Float32Array(H * H).fill(0.2), 3, H);
    const out = await make('ort-cpu').run({ model, feeds: { x: { dims: [T, B, 3], data: x } }, outputNames: ['h_n'] });
    expect(out.placements.map((p) => p.node)).toContain('step_xw');
    expect(out.placements.find((p) => p.node === 'step_xw')).toMatchObject({ opType: 'MatMul', ep: 'CPUExecutionProvider', subgraph: 'scan.body' });
    expect(out.placements.find((p) => p.node === 'scan')?.subgraph).toBeUndefined();
  });

  test('ort-wasm: from the verbose log, with its thread and SIMD settings', async () => {
    const out = await make('ort-wasm', { threads: 1 }).run(job);
    expect(out.settings).toMatchObject({ placementSource: 'onnxruntime verbose log', numThreads: 1, 'onnxruntime.web': '1.30.0' });
    // The runner reports simd: true without asking the runtime: it rests on onnxruntime-web shipping only SIMD
    // builds of its wasm, so check that basis rather than the constant.
    const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
    const wasms = readdirSync(dist).filter((f) => f.endsWith('.wasm'));
    expect(wasms).toContain(out.settings.wasm);
    expect(out.settings.simd).toBe(wasms.every((f) => f.includes('simd')));
    expect(out.placements.find((p) => p.opType === 'GRU')).toMatchObject({ ep: 'CPUExecutionProvider' });
  });

  test('ort-wasm keeps one session per model: another model, then the first at another shape, each answer its own, placements every time', async () => {
    const r = make('ort-wasm');
    const scan = exportSeedModel(params, { form: 'scan', hiddenStates: true, hN: true });
    const x1 = x.subarray(0, T * config.inputSize);
    const runs = [[job.model, B, x, true], [job.model, B, x, false], [scan, B, x, true], [job.model, 1, x1, true], [job.model, B, x, false]] as const;
    for (const [model, b, xs, creates] of runs) {
      const out = await r.run({ ...job, model, feeds: { x: { dims: [b, T, config.inputSize], data: xs } }, outputNames: ['logits', 'hidden_states'] });
      const e = referenceForward(params, xs, b, T);
      expect(out.outputs.hidden_states!.dims).toEqual([b, T, config.hiddenSize]);
      expect(float32Data(out.outputs.logits!).every((v, i) => Math.abs(v - e.logits[i]!) <= 1e-5 + 1e-4 * Math.abs(e.logits[i]!))).toBe(true);
      // A session is made when the model changes, not per run or per shape.
      expect(out.sessionMs !== undefined).toBe(creates);
      // The fused model's GRU node, or the scan form's Scan: placements follow the model, not the last session.
      expect(out.placements.some((p) => p.opType === (model === scan ? 'Scan' : 'GRU'))).toBe(true);
      expect(out.placements.some((p) => p.opType === (model === scan ? 'GRU' : 'Scan'))).toBe(false);
    }
  });

  test('ort-cpu makes a session per run (its profile is per session), and says how long it took', async () => {
    const r = make('ort-cpu');
    for (let i = 0; i < 2; i++) expect((await r.run(job)).sessionMs).toBeGreaterThan(0);
  });
});

describe('ort-cuda', () => {
  // What this machine has decides the answer: the CUDA provider libraries next to onnxruntime-node's binding (a
  // default install has none) and an NVIDIA device. Each test looks first, then asserts the answer that fits.
  const found = findOrtNode({});
  const bindingDir = 'bindingDir' in found ? found.bindingDir : '';
  const libs = CUDA_PROVIDER_LIBS.filter((lib) => existsSync(join(bindingDir, lib)));
  const gpu = existsSync('/dev/nvidiactl');

  test('is available exactly when the provider libraries and a GPU are there, and otherwise says which is missing', async () => {
    const probe = await make('ort-cuda').probe();
    if (libs.length < CUDA_PROVIDER_LIBS.length) {
      const missing = CUDA_PROVIDER_LIBS.find((lib) => !libs.includes(lib))!;
      expect(probe).toMatchObject({ available: false, enable: expect.stringMatching(/LD_LIBRARY_PATH/) });
      expect(!probe.available && probe.reason).toBe(`${missing} not found next to onnxruntime-node's binding (${join(bindingDir, missing)})`);
    } else if (!gpu) {
      expect(probe).toMatchObject({ available: false, reason: expect.stringMatching(/^CUDA session failed: /) });
    } else {
      expect(probe).toMatchObject({ available: true, versions: { 'onnxruntime-node': '1.29.0' } });
    }
  });

  test('a run either fails, naming the runner, or ran its compute on the CUDA EP: it never falls back to CPU silently', async () => {
    const r = make('ort-cuda');
    const { available } = await r.probe();
    if (!available) {
      await expect(r.run(job)).rejects.toThrow(/^ort-cuda: /);
      return;
    }
    const out = await r.run(job);
    expect(out.placements.length).toBeGreaterThan(0);
    // onnxruntime 1.29's CUDA EP declines GRU with linear_before_reset = 0; whatever ran elsewhere is listed.
    expect(out.placements.some((p) => p.ep === 'CUDAExecutionProvider')).toBe(true);
    const logits = out.outputs.logits!.data as Float32Array;
    expect(Math.max(...logits.map((v, i) => Math.abs(v - expected.logits[i]!)))).toBeLessThan(1e-4);
  });

  test('with provider libraries present but unloadable, the probe tries a session and reports its error', async () => {
    // A copy of onnxruntime-node with two non-ELF files where the CUDA provider libraries go: the path a GPU
    // machine takes, up to the point where the libraries must load.
    const root = mkdtempSync(join(tmpdir(), 'gru-onnx-cuda-test-'));
    try {
      const real = dirname(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
      const copy = join(root, 'node_modules', 'onnxruntime-node');
      const bin = join('bin', 'napi-v6', 'linux', 'x64');
      mkdirSync(join(copy, bin), { recursive: true });
      cpSync(join(real, 'dist'), join(copy, 'dist'), { recursive: true });
      cpSync(join(real, 'package.json'), join(copy, 'package.json'));
      for (const f of readdirSync(join(real, bin))) cpSync(join(real, bin, f), join(copy, bin, f));
      for (const lib of CUDA_PROVIDER_LIBS) writeFileSync(join(copy, bin, lib), 'not a shared library');
      // onnxruntime-node 1.29 sits beside its onnxruntime-common in pnpm's store.
      const common = join(dirname(real), 'onnxruntime-common');
      symlinkSync(common, join(root, 'node_modules', 'onnxruntime-common'));
      const entry = join(copy, 'dist', 'index.js');
      const r = make('ort-cuda', { resolveModule: (s) => (s === 'onnxruntime-node' ? entry : createRequire(import.meta.url).resolve(s)) });
      const t0 = Date.now();
      const probe = await r.probe();
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(probe).toMatchObject({ available: false, reason: expect.stringMatching(/^CUDA session failed: .*libonnxruntime_providers_shared\.so with error: .*(invalid ELF|too short|file too short)/) });
      await expect(r.run(job)).rejects.toThrow(/^ort-cuda: .*(shared library|providers_shared)/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('stuck and crashing backends', () => {
  test('a hung ort-cpu run ends at its timeout with an error, its child killed', async () => {
    process.env.GRU_ONNX_TEST_FAULT = 'ort-cpu:hang';
    const t0 = Date.now();
    await expect(make('ort-cpu', { timeoutMs: 1500 }).run(job)).rejects.toThrow(/no answer within 1500 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await settledWorkers(0)).toBe(0);
  });

  test('the runner recovers: the next run starts a fresh worker', async () => {
    const r = make('ort-cpu', { timeoutMs: 1500 });
    await r.run(job);
    process.env.GRU_ONNX_TEST_FAULT = 'ort-cpu:hang';
    await expect(r.run(job)).rejects.toThrow(/no answer within/);
    delete process.env.GRU_ONNX_TEST_FAULT;
    const out = await r.run(job);
    expect(out.outputs.logits!.dims).toEqual([B, config.outputSize]);
    expect(await settledWorkers(1)).toBe(1); // one worker, kept for the next run
    await r.close();
    expect(await settledWorkers(0)).toBe(0);
  });

  test('an abort stops a hung run at once', async () => {
    process.env.GRU_ONNX_TEST_FAULT = 'ort-wasm:hang';
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    await expect(make('ort-wasm').run(job, ac.signal)).rejects.toThrow(/aborted/);
    expect(await settledWorkers(0)).toBe(0);
  });

  test('a crashed child becomes an error naming the signal', async () => {
    process.env.GRU_ONNX_TEST_FAULT = 'ort-cpu:crash';
    await expect(make('ort-cpu').run(job)).rejects.toThrow(/worker exited \(SIGABRT\)/);
  });

  test('SIGINT during a hung run leaves no worker child and no temporary directory', async () => {
    const base = mkdtempSync(join(tmpdir(), 'gru-onnx-sigint-test-'));
    try {
      const script = [
        "import { createOrtCpuRunner } from './packages/verify/src/runners/ort-cpu.ts';",
        "import { randomParams, seedGruModel } from './packages/verify/src/runners/tiny-models.ts';",
        'const p = randomParams({ inputSize: 3, hiddenSize: 4, outputSize: 2 }, 1);',
        "setTimeout(() => process.stdout.write('READY\\n'), 300);",
        "await createOrtCpuRunner({ timeoutMs: 60000 }).run({ model: seedGruModel(p), feeds: { x: { dims: [1, 1, 3], data: new Float32Array(3) } }, outputNames: ['logits'] });",
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, TMPDIR: base, GRU_ONNX_TEST_FAULT: 'ort-cpu:hang' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
      let workers: number[] = [];
      try {
        await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('READY') && resolve()));
        expect(liveWorkers(child.pid)).toBe(1);
        expect(readdirSync(base).filter((d) => d.startsWith('gru-onnx-ort-'))).toHaveLength(1);
        workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
        child.kill('SIGINT');
        expect(await exited).toBe('SIGINT');
        // The worker was the interrupted process's child: look for it by pid, as it has been re-parented. A
        // SIGKILLed process takes a moment to disappear, so poll briefly.
        const alive = () => workers.filter(running);
        for (let i = 0; i < 20 && alive().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
        expect(alive()).toEqual([]);
        expect(readdirSync(base).filter((d) => d.startsWith('gru-onnx-ort-'))).toEqual([]);
      } finally {
        // A failed expectation must not leave our processes behind.
        child.kill('SIGKILL');
        await exited;
        for (const pid of workers.filter(running)) process.kill(pid, 'SIGKILL');
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('other runners are unaffected by one runner’s fault', async () => {
    process.env.GRU_ONNX_TEST_FAULT = 'ort-cpu:hang';
    const out = await make('ort-wasm').run(job);
    expect(out.outputs.logits!.dims).toEqual([B, config.outputSize]);
  });
});

describe('registry', () => {
  test('unknown backend names are a UserError', () => {
    expect(() => createRunner('ort-gpu')).toThrow(/unknown backend 'ort-gpu'/);
  });

  test('probeAll reports each backend', async () => {
    const report = await probeAll(['reference', 'ort-cuda'], missingModule);
    expect(report.map((r) => [r.name, r.probe.available])).toEqual([
      ['reference', true],
      ['ort-cuda', false],
    ]);
  });

  test('importing @gru-onnx/verify loads neither onnxruntime, tfjs nor playwright', () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('@gru-onnx/verify');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache);',
      "console.log(JSON.stringify(loaded.filter((p) => /onnxruntime|@tensorflow|playwright/.test(p))));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: process.cwd() });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([]);
  });
});
