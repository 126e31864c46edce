/**
 * Time to verdict (issue 17, part 4): `gru-onnx verify` of the demo model (the seed configuration, trained as
 * `demo` trains it, the default export with hidden_states) with the default sweep on every local backend, wall
 * time from the command's start to its exit — beside the floor: a bare script that does the same work with no
 * gru-onnx around it (one session per backend, the same inputs, the same runs, the float64 reference and tfjs
 * forward; each browser backend in a Chromium of its own, all at once beside the Node work, as verify's lanes
 * run; in a fresh process), and the ratio.
 *
 *   npx tsx tools/bench/verdict.ts [--runs N] [--bin PATH]
 *
 * --bin: the command to time (default: the sources through tsx, as `pnpm gru-onnx` runs them; give an installed
 * node_modules/.bin/gru-onnx to time the built package). The machine is shared: the load average is printed
 * before and after, each figure is the median of --runs (default 3), and the CPU time of each side's whole process
 * tree (Chromium's included) is printed beside its wall time: steadier than wall time under others' load.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCheckpoint, referenceForward, saveCheckpoint, SEED_CONFIG, SEED_TRAIN, tfjsForward, trainSeedModel } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import { exportSeedModel } from '@gru-onnx/onnx';
import { DEFAULT_SEED, DEFAULT_SHAPES, generateCases, readSignature } from '@gru-onnx/verify';
import type { VerifyCase } from '@gru-onnx/verify';
import { chromiumMissing, chromiumPath, launchChromium, NO_GPU_FLAGS, WEBGPU_FLAGS } from '../../packages/verify/src/browser/chromium.ts';
import { startPageServer } from '../../packages/verify/src/browser/server.ts';
import { float32Data } from '../../packages/verify/src/tensor.ts';

/** The little of playwright-core this script uses (it is the verify package's dependency, not the root's). */
interface Page {
  goto(url: string): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  close(): Promise<void>;
}
interface Browser {
  contexts(): { newPage(): Promise<Page> }[];
  newContext(): Promise<{ newPage(): Promise<Page> }>;
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(join(ROOT, 'packages', 'verify', 'package.json'));

const now = (): number => performance.now();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/**
 * Runs a command to its exit and returns its output with the CPU time of its whole process tree (Chromium's
 * processes included, which are not the command's waited-for children), summed from /proc samples every 100 ms:
 * a steadier figure than wall time on a shared machine. A process that ends between samples loses under 0.1 s.
 */
async function runMeasured(file: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; cpuS: number }> {
  const tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ticks = new Map<number, number>();
  const sample = (): void => {
    const procs = new Map<number, { ppid: number; ticks: number }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
      } catch {
        continue; // it ended while we looked
      }
    }
    const tree = new Set([child.pid!]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, p] of procs) {
        if (!tree.has(pid) && tree.has(p.ppid)) {
          tree.add(pid);
          grew = true;
        }
      }
    }
    for (const pid of tree) if (procs.has(pid)) ticks.set(pid, procs.get(pid)!.ticks);
  };
  const timer = setInterval(sample, 100);
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearInterval(timer);
  return { status, stdout, stderr, cpuS: [...ticks.values()].reduce((a, t) => a + t, 0) / tick };
}

/** The demo's model: the seed configuration trained with the seed's settings, exported as `demo` exports it. */
async function demoModel(dir: string): Promise<{ modelPath: string; weightsPath: string }> {
  const { params } = await trainSeedModel({ config: SEED_CONFIG, train: SEED_TRAIN });
  const model = exportSeedModel(params, { form: 'auto', hiddenStates: true });
  const modelPath = join(dir, 'model.onnx');
  const weightsPath = join(dir, 'checkpoint.safetensors');
  writeFileSync(modelPath, model);
  saveCheckpoint(weightsPath, { config: SEED_CONFIG, params, metadata: {} });
  return { modelPath, weightsPath };
}

/** Feeds as onnxruntime-common tensors take them. */
const feedsOf = (c: VerifyCase) => Object.entries(c.feeds).map(([name, t]) => ({ name, dims: t.dims, data: float32Data(t) }));

interface Ort {
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<{ run(feeds: object): Promise<object>; release(): Promise<void> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => object;
  env: { wasm: { numThreads: number } };
}

/** One session, every case: what ort-cpu and ort-wasm do at the least. Returns its session creation and run times. */
async function ortRuns(ort: Ort, model: Uint8Array, cases: VerifyCase[], options: object): Promise<{ session: number; runs: number }> {
  let t0 = now();
  const session = await ort.InferenceSession.create(model, options);
  const created = now() - t0;
  t0 = now();
  for (const c of cases) {
    const feeds = Object.fromEntries(feedsOf(c).map((f) => [f.name, new ort.Tensor('float32', f.data, f.dims)]));
    await session.run(feeds);
  }
  const runs = now() - t0;
  await session.release();
  return { session: created, runs };
}

/** The Node lane's work with no gru-onnx around it: reference, tfjs, onnxruntime-node CPU, onnxruntime-web wasm. */
async function nodeFloor(model: Uint8Array, params: SeedParams, cases: VerifyCase[]): Promise<Record<string, number>> {
  const t: Record<string, number> = {};
  let t0 = now();
  for (const c of cases) {
    const [B, T] = c.feeds.x!.dims as [number, number];
    referenceForward(params, float32Data(c.feeds.x!), B, T);
  }
  t.reference = now() - t0;
  t0 = now();
  for (const c of cases) {
    const [B, T] = c.feeds.x!.dims as [number, number];
    await tfjsForward(params, float32Data(c.feeds.x!), B, T, undefined, 'auto');
  }
  t.tfjs = now() - t0;
  t0 = now();
  const ortNode = (await import(pathToFileURL(require.resolve('onnxruntime-node')).href)) as Ort & { default?: Ort };
  const cpu = await ortRuns(ortNode.default ?? ortNode, model, cases, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  t['ort-cpu'] = now() - t0;
  t['ort-cpu: session'] = cpu.session;
  t['ort-cpu: runs'] = cpu.runs;
  t0 = now();
  const ortWeb = (await import(pathToFileURL(require.resolve('onnxruntime-web')).href)) as Ort & { default?: Ort };
  const web = ortWeb.default ?? ortWeb;
  web.env.wasm.numThreads = 1;
  const wasm = await ortRuns(web, model, cases, { executionProviders: ['wasm'] });
  t['ort-wasm'] = now() - t0;
  t['ort-wasm: session'] = wasm.session;
  t['ort-wasm: runs'] = wasm.runs;
  return t;
}

/** The three browser backends of the default sweep: the bundle each imports, the EP it asks that bundle for, Chromium's flags. */
const PAGES = [
  ['browser-wasm', 'ort.wasm.min.mjs', 'wasm', NO_GPU_FLAGS],
  ['browser-webgpu', 'ort.webgpu.min.mjs', 'webgpu', WEBGPU_FLAGS],
  ['browser-webgpu-jsep', 'ort.min.mjs', 'webgpu', WEBGPU_FLAGS],
] as const;

/** One browser backend's lane: a Chromium of its own, a page, one session, every case. */
async function browserFloor(model: Uint8Array, cases: VerifyCase[], [name, bundle, ep, flags]: (typeof PAGES)[number]): Promise<Record<string, number>> {
  const t: Record<string, number> = {};
  let t0 = now();
  const ortDist = dirname(require.resolve('onnxruntime-web'));
  const server = await startPageServer(ortDist);
  const chromium = await launchChromium(chromiumPath(), [...flags], 30_000);
  const pw = (await import(pathToFileURL(require.resolve('playwright-core')).href)) as { chromium?: { connectOverCDP(ws: string, o: object): Promise<Browser> }; default?: { chromium: { connectOverCDP(ws: string, o: object): Promise<Browser> } } };
  const browser = await (pw.chromium ?? pw.default!.chromium).connectOverCDP(chromium.wsEndpoint, { artifactsDir: chromium.artifactsDir });
  try {
    t[`${name}: browser start`] = now() - t0;
    const modelPath = server.put(model, 'model.onnx');
    const inputs = cases.map((c) => feedsOf(c).map((f) => ({ name: f.name, dims: f.dims, path: server.put(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength), `${f.name}.bin`) })));
    const outputNames = readSignature(model).outputs.map((o) => o.name);
    t0 = now();
    const page = await (browser.contexts()[0] ?? (await browser.newContext())).newPage();
    await page.goto(`${server.origin}/`);
    // The outputs come back to Node as bytes, as verify needs them.
    const uploads = cases.map(() => outputNames.map((n) => server.accept(`${n}.bin`)));
    // A string, not a function: tsx's transform would put helpers the page does not have into a function's source.
    const parts = (await page.evaluate(`(async () => {
      const ort = await import('/ort/${bundle}');
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = 1;
      const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
      let t0 = performance.now();
      const session = await ort.InferenceSession.create(await get(${JSON.stringify(modelPath)}), { executionProviders: [${JSON.stringify(ep)}] });
      const created = performance.now() - t0;
      const runs = [];
      const uploads = ${JSON.stringify(uploads)};
      for (const [i, feeds] of ${JSON.stringify(inputs)}.entries()) {
        t0 = performance.now();
        const f = {};
        for (const x of feeds) { const b = await get(x.path); f[x.name] = new ort.Tensor('float32', new Float32Array(b.buffer), x.dims); }
        const out = await session.run(f);
        for (const [j, name] of ${JSON.stringify(outputNames)}.entries()) {
          const v = out[name];
          const d = v.location === 'cpu' ? v.data : await v.getData();
          await fetch(uploads[i][j], { method: 'POST', body: new Blob([new Uint8Array(d.buffer, d.byteOffset, d.byteLength)]) });
        }
        runs.push(performance.now() - t0);
      }
      await session.release();
      return { created, first: runs[0], rest: runs.slice(1).reduce((a, x) => a + x, 0) };
    })()`)) as { created: number; first: number; rest: number };
    for (const p of uploads.flat()) if (!server.take(p)) throw new Error(`${name}: no output at ${p}`);
    await page.close();
    t[name] = now() - t0;
    t[`${name}: session`] = parts.created;
    t[`${name}: case 1`] = parts.first;
    t[`${name}: cases 2..`] = parts.rest;
  } finally {
    chromium.kill();
    await browser.close().catch(() => undefined);
    await server.close();
  }
  return t;
}

/**
 * The floor: every lane at once, as verify runs them, in a fresh process (like the command, it loads onnxruntime,
 * tfjs and their wasm anew). Its wall time runs from the process's start to the end of the work.
 */
async function floor(modelPath: string, weightsPath: string): Promise<{ wallMs: number; cpuS: number; parts: Record<string, number> }> {
  const r = await runMeasured(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--floor', modelPath, weightsPath]);
  if (r.status !== 0) throw new Error(`floor script exited ${r.status}: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as { wallMs: number; parts: Record<string, number> }), cpuS: r.cpuS };
}

async function floorProcess(modelPath: string, weightsPath: string): Promise<void> {
  const model = new Uint8Array(readFileSync(modelPath));
  const { params } = loadCheckpoint(weightsPath);
  const cases = generateCases(readSignature(model), { inputSize: SEED_CONFIG.inputSize, hiddenSize: SEED_CONFIG.hiddenSize }, { shapes: DEFAULT_SHAPES, seed: DEFAULT_SEED });
  const lanes = await Promise.all([nodeFloor(model, params, cases), ...(chromiumMissing(chromiumPath()) ? [] : PAGES.map((p) => browserFloor(model, cases, p)))]);
  console.log(JSON.stringify({ wallMs: now(), parts: Object.assign({}, ...lanes) as Record<string, number> }));
}

/**
 * One backend's time in the command, from its report: start (probe: for the first browser backend, Chromium's start),
 * session creation (inside the cases' runs), the first case and the others less that, the rest (close).
 */
interface BackendParts {
  cases: number;
  probeMs: number;
  sessionMs: number;
  firstMs: number;
  restMs: number;
  closeMs: number;
  totalMs: number;
}

/** The command, start to exit; its report's per-backend parts. Every case must have run and matched (pass or partial). */
async function command(bin: string[], modelPath: string, weightsPath: string, reportDir: string): Promise<{ wallMs: number; cpuS: number; backends: Record<string, BackendParts> }> {
  const t0 = now();
  const r = await runMeasured(bin[0]!, [...bin.slice(1), 'verify', '--model', modelPath, '--weights', weightsPath, '--report', reportDir]);
  const wallMs = now() - t0;
  const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as {
    backends: { name: string; status: string; timing: { probeMs: number; totalMs: number }; cases: { status: string; timing: { runMs: number; sessionMs?: number } }[] }[];
  };
  // `partial` (outputs match, but part of the graph ran off the accelerator) is a verdict, not a dropped case.
  const ran = report.backends.filter((b) => b.status !== 'unavailable');
  const dropped = ran.flatMap((b) => (b.status === 'fail' || b.status === 'error' ? [`${b.name} ${b.status}`] : b.cases.filter((c) => c.status !== 'pass' && c.status !== 'partial').map((c) => `${b.name} case ${c.status}`)));
  if (r.status !== 0 || dropped.length > 0) throw new Error(`verify exited ${r.status}: ${dropped.join(', ')}\n${r.stderr}`);
  const backends: Record<string, BackendParts> = {};
  for (const b of ran) {
    const runs = b.cases.map((c) => c.timing.runMs - (c.timing.sessionMs ?? 0));
    const sessionMs = b.cases.reduce((a, c) => a + (c.timing.sessionMs ?? 0), 0);
    const firstMs = runs[0] ?? 0;
    const restMs = runs.slice(1).reduce((a, x) => a + x, 0);
    const closeMs = b.timing.totalMs - b.timing.probeMs - sessionMs - firstMs - restMs;
    backends[b.name] = { cases: runs.length, probeMs: b.timing.probeMs, sessionMs, firstMs, restMs, closeMs, totalMs: b.timing.totalMs };
  }
  return { wallMs, cpuS: r.cpuS, backends };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const runsAt = argv.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3;
  const binAt = argv.indexOf('--bin');
  const bin = binAt >= 0 ? [argv[binAt + 1]!] : [process.execPath, '--import', 'tsx', join(ROOT, 'packages/cli/src/bin.ts')];
  const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-verdict-'));
  try {
    console.log(`load average before: ${load()}`);
    const { modelPath, weightsPath } = await demoModel(dir);
    const walls: number[] = [];
    const floors: number[] = [];
    const cpus: [number, number][] = [];
    let lastCommand: Record<string, BackendParts> = {};
    let lastFloor: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const c = await command(bin, modelPath, weightsPath, join(dir, `report-${i}`));
      walls.push(c.wallMs);
      lastCommand = c.backends;
      const f = await floor(modelPath, weightsPath);
      floors.push(f.wallMs);
      cpus.push([c.cpuS, f.cpuS]);
      lastFloor = f.parts;
      console.log(`run ${i + 1}: verify ${(c.wallMs / 1000).toFixed(2)} s (CPU ${c.cpuS.toFixed(1)} s), floor ${(f.wallMs / 1000).toFixed(2)} s (CPU ${f.cpuS.toFixed(1)} s) (load ${load()})`);
    }
    const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
    console.log(`\n${DEFAULT_SHAPES.length + 2} cases on every local backend (demo model, default sweep); last run's parts:`);
    console.log('  verify, per backend (from the report; runs less session creation; each browser backend in a lane of its own, beside the Node lane):');
    const cols = ['start', 'sessions', 'case 1', 'cases 2..', 'close', 'total'];
    console.log(`    ${'backend (cases)'.padEnd(24)} ${cols.map((c) => c.padStart(9)).join(' ')}`);
    for (const [k, v] of Object.entries(lastCommand)) {
      console.log(`    ${`${k} (${v.cases})`.padEnd(24)} ${[v.probeMs, v.sessionMs, v.firstMs, v.restMs, v.closeMs, v.totalMs].map((x) => ms(x).padStart(9)).join(' ')}`);
    }
    // The Node lane runs its backends one after another, so its length is their sum; a browser lane is its one backend.
    const node = Object.entries(lastCommand).filter(([k]) => !k.startsWith('browser-')).reduce((a, [, v]) => a + v.totalMs, 0);
    const browsers = Object.entries(lastCommand).filter(([k]) => k.startsWith('browser-')).map(([k, v]) => `${k} ${ms(v.totalMs)}`);
    console.log(`    lanes: Node ${ms(node)}; ${browsers.join(', ')}`);
    console.log('  floor, per part (every lane at once):');
    for (const [k, v] of Object.entries(lastFloor)) console.log(`    ${k.padEnd(34)} ${ms(v)}`);
    const w = median(walls);
    const f = median(floors);
    const cv = median(cpus.map(([v]) => v));
    const cf = median(cpus.map(([, x]) => x));
    console.log(`\n| | wall (median of ${runs}) | CPU, process tree (median) |\n| --- | ---: | ---: |`);
    console.log(`| gru-onnx verify, start to exit | ${ms(w)} | ${cv.toFixed(1)} s |\n| floor (bare script, same sessions and runs) | ${ms(f)} | ${cf.toFixed(1)} s |\n| ratio | ${(w / f).toFixed(2)}× | ${(cv / cf).toFixed(2)}× |`);
    console.log(`target: ≤ 15 s wall for the command; load average after: ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--floor');
  if (at >= 0) await floorProcess(process.argv[at + 1]!, process.argv[at + 2]!);
  else await main();
}
