/**
 * The fuzz loop: builds valid seed files (checkpoint, PyTorch nn.GRU state_dict, tfjs model.json + weights, ONNX
 * models in every form, a bundle), mutates one per case, and runs `inspect`, `export` and `verify` on it
 * in-process through the CLI's main(). Every run must end with exit 0, 1 or 2 (2: exactly one `error:` line,
 * not `error: internal:`), within the time limit, with no stack trace and no uncaught exception.
 *
 * Cost: most cases stop in validation (milliseconds). onnxruntime runs in a child process (about 1 s each), so
 * only mutated models that pass every structural check reach it, and at most `ortBudget` of them per run.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeCheckpoint, initParams, Rng, UserError } from '@gru-onnx/model';
import { assertValidModel, exportSeedModel, onnx } from '@gru-onnx/onnx';
import { loadBundle } from '@gru-onnx/verify';
import { main, type Io } from '@gru-onnx/cli';
import {
  flipWeightBits,
  lieAboutLength,
  mutateBytes,
  mutateModelJson,
  mutateOnnx,
  mutateSafetensors,
  mutateTensorProto,
  safetensorsRegions,
  type Mutation,
} from './mutate.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = { inputSize: 3, hiddenSize: 4, outputSize: 2 };
/** Small and cheap: one shape; verify adds its two edge cases at 3x64. */
const SHAPES = '1x3';

export const TARGETS = ['checkpoint', 'pytorch', 'tfjs', 'onnx', 'bundle'] as const;
export type Target = (typeof TARGETS)[number];
/** Relative frequency of each target: ONNX files have the most structure to get wrong. */
const WEIGHTS: Record<Target, number> = { checkpoint: 20, pytorch: 12, tfjs: 18, onnx: 32, bundle: 18 };

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Scratch directory (created, and emptied per case). */
  workDir: string;
  /** Most onnxruntime runs (child processes, ~1 s each). Default: one per 100 cases, at least 3. */
  ortBudget?: number;
  /** Per-run limit, ms (the issue's 5 s). */
  timeLimitMs?: number;
  /** Run only these case indices (to reproduce a failure). */
  only?: number[];
  onProgress?: (done: number, total: number) => void;
}

export interface Invocation {
  argv: string[];
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

export interface Failure {
  index: number;
  target: Target;
  mutation: string;
  why: string;
  run?: Invocation;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  /** CLI runs (a case runs one to three commands). */
  runs: number;
  /** Runs by exit code. */
  exits: Record<string, number>;
  /** Cases by target. */
  targets: Record<Target, number>;
  ortRuns: number;
  /** Mutations that passed every structural check but found the onnxruntime budget spent (run through inspect only). */
  validButNotRun: number;
  maxRunMs: number;
  totalMs: number;
  peakRssMb: number;
  /** What the exit-1 runs found (mutation → the report's summary), so "a real mismatch" can be checked by eye. */
  mismatches: { index: number; mutation: string; message: string }[];
  failures: Failure[];
}

const silentIo = (sink: { out: string; err: string }): Io => ({
  out: (s) => void (sink.out += s),
  err: (s) => void (sink.err += s),
  stderrIsTTY: false,
  stderrStream: process.stderr,
});

/** A stack frame line, as Node prints them. */
const STACK = /^\s+at .+(\(|:\d+:\d+)/m;

async function invoke(argv: string[], timeLimitMs: number): Promise<Invocation> {
  const sink = { out: '', err: '' };
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<number>((resolve) => {
    // Twice the limit before giving up on the promise: a run between 1× and 2× is reported as slow, not hung.
    timer = setTimeout(() => resolve(-1), 2 * timeLimitMs);
  });
  const code = await Promise.race([main(argv, { io: silentIo(sink) }), limit]);
  clearTimeout(timer);
  return { argv, code, ms: performance.now() - t0, stdout: sink.out, stderr: sink.err };
}

/** Why a run breaks the contract, or undefined when it keeps it. */
export function contractViolation(run: Invocation, timeLimitMs: number): string | undefined {
  if (run.code === -1) return `no exit within ${2 * timeLimitMs} ms (hang)`;
  if (run.ms > timeLimitMs) return `took ${Math.round(run.ms)} ms, over the ${timeLimitMs} ms limit`;
  if (![0, 1, 2].includes(run.code)) return `exit ${run.code}${run.code === 70 ? ' (internal error)' : ''}`;
  if (STACK.test(run.stderr) || STACK.test(run.stdout)) return 'stack trace in the output';
  const errorLines = run.stderr.split('\n').filter((l) => l.startsWith('error:'));
  if (run.code === 2) {
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    if (lines.length !== 1 || errorLines.length !== 1) return `exit 2 with ${lines.length} stderr lines (${errorLines.length} starting 'error:'), expected exactly one 'error:' line`;
    if (errorLines[0]!.startsWith('error: internal')) return 'exit 2 with an internal error';
  } else if (errorLines.length > 0) {
    return `exit ${run.code} with an 'error:' line`;
  }
  return undefined;
}

interface Seeds {
  checkpoint: Uint8Array;
  pytorch: Uint8Array;
  tfjsJson: Record<string, unknown>;
  tfjsWeights: Uint8Array;
  models: Uint8Array[];
  /** file name → bytes, relative to the bundle directory. */
  bundle: Map<string, Uint8Array>;
}

function buildSeeds(dir: string, seed: number): Seeds {
  mkdirSync(dir, { recursive: true });
  const params = initParams(CONFIG, new Rng(seed));
  const checkpoint = encodeCheckpoint({ config: CONFIG, params, metadata: {} });
  const models = [
    exportSeedModel(params, { form: 'fused' }),
    exportSeedModel(params, { form: 'scan', hiddenStates: true }),
    exportSeedModel(params, { form: 'auto', hN: true, opset: 14 }),
    exportSeedModel(params, { form: 'fused', opset: 7 }),
  ];
  const tfjsDir = join(ROOT, 'tools/fuzz/seeds/tfjs-gru');
  return {
    checkpoint,
    pytorch: readFileSync(join(ROOT, 'fixtures/pytorch/l1-uni-bf.safetensors')),
    tfjsJson: JSON.parse(readFileSync(join(tfjsDir, 'model.json'), 'utf8')) as Record<string, unknown>,
    tfjsWeights: readFileSync(join(tfjsDir, 'weights.bin')),
    models,
    bundle: new Map(),
  };
}

/** Writes the seed checkpoint and model, then saves a bundle of the reference's outputs through the CLI. */
async function buildBundle(seeds: Seeds, dir: string, timeLimitMs: number): Promise<void> {
  const ckpt = join(dir, 'ckpt.safetensors');
  const model = join(dir, 'model.onnx');
  writeFileSync(ckpt, seeds.checkpoint);
  writeFileSync(model, seeds.models[0]!);
  const bundleDir = join(dir, 'bundle');
  const run = await invoke(['verify', '--model', model, '--weights', ckpt, '--backends', 'reference', '--shapes', SHAPES, '--save-bundle', bundleDir], timeLimitMs);
  if (run.code !== 0) throw new Error(`fuzz seeds: saving the seed bundle failed (exit ${run.code}): ${run.stderr}`);
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(bundleDir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else seeds.bundle.set(p, readFileSync(join(bundleDir, p)));
    }
  };
  walk('');
}

/** The report's one-line verdict (verify --json), or why an exit 1 has none: then it is not a real mismatch. */
function mismatchMessage(run: Invocation): string {
  try {
    const report = JSON.parse(run.stdout) as { summary?: { message?: string } };
    return report.summary?.message ?? 'no summary in the JSON report';
  } catch (err) {
    return `no JSON report (${err instanceof Error ? err.message : String(err)})`;
  }
}

function pickTarget(rng: Rng): Target {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  let r = rng.int(total);
  for (const t of TARGETS) {
    r -= WEIGHTS[t];
    if (r < 0) return t;
  }
  return 'onnx';
}

const pickOne = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** Per-case generator, so case N is the same whatever ran before it. */
const caseRng = (seed: number, index: number) => new Rng((seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);

function mutateSafetensorsAny(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  return rng.int(2) === 0 ? mutateSafetensors(rng, bytes) : mutateBytes(rng, bytes, safetensorsRegions(bytes));
}

function mutateModelBytes(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const r = rng.int(10);
  if (r < 4) return mutateOnnx(rng, bytes);
  if (r < 6) return lieAboutLength(rng, bytes);
  if (r < 7) return flipWeightBits(rng, bytes);
  return mutateBytes(rng, bytes, [0, 2, bytes.length >> 2, bytes.length >> 1, bytes.length - 8, bytes.length]);
}

/** Passes decode and the structural checker: what onnxruntime would be asked to run. */
function structurallyValid(bytes: Uint8Array): boolean {
  try {
    assertValidModel(onnx.ModelProto.decode(bytes));
    return true;
  } catch (err) {
    if (err instanceof UserError || err instanceof Error) return false;
    throw err;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const timeLimitMs = options.timeLimitMs ?? 5000;
  const ortBudget = options.ortBudget ?? Math.max(3, Math.ceil(options.cases / 100));
  const seedDir = join(options.workDir, 'seeds');
  const caseDir = join(options.workDir, 'case');
  rmSync(options.workDir, { recursive: true, force: true });
  const seeds = buildSeeds(seedDir, options.seed);
  await buildBundle(seeds, seedDir, timeLimitMs);
  const seedCkpt = join(seedDir, 'ckpt.safetensors');

  const summary: FuzzSummary = {
    seed: options.seed,
    cases: 0,
    runs: 0,
    exits: {},
    targets: { checkpoint: 0, pytorch: 0, tfjs: 0, onnx: 0, bundle: 0 },
    ortRuns: 0,
    validButNotRun: 0,
    maxRunMs: 0,
    totalMs: 0,
    peakRssMb: 0,
    mismatches: [],
    failures: [],
  };

  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  const indices = options.only ?? Array.from({ length: options.cases }, (_, i) => i);
  try {
    for (const [n, index] of indices.entries()) {
      const rng = caseRng(options.seed, index);
      const target = pickTarget(rng);
      summary.targets[target]++;
      summary.cases++;
      rmSync(caseDir, { recursive: true, force: true });
      mkdirSync(caseDir, { recursive: true });
      let mutation = '';
      const check = async (argv: string[], allowed?: readonly number[]): Promise<Invocation> => {
        const run = await invoke(argv, timeLimitMs);
        summary.runs++;
        summary.exits[run.code] = (summary.exits[run.code] ?? 0) + 1;
        summary.maxRunMs = Math.max(summary.maxRunMs, run.ms);
        const why = contractViolation(run, timeLimitMs) ?? (allowed && !allowed.includes(run.code) ? `exit ${run.code}, expected ${allowed.join(' or ')}` : undefined);
        if (why) summary.failures.push({ index, target, mutation, why, run });
        else if (run.code === 1) summary.mismatches.push({ index, mutation, message: mismatchMessage(run) });
        return run;
      };
      const before = uncaught.length;

      if (target === 'checkpoint' || target === 'pytorch') {
        const m = mutateSafetensorsAny(rng, target === 'checkpoint' ? seeds.checkpoint : seeds.pytorch);
        mutation = m.label;
        const weights = join(caseDir, 'weights.safetensors');
        writeFileSync(weights, m.value);
        const out = join(caseDir, 'out.onnx');
        const form = target === 'checkpoint' ? pickOne(rng, ['fused', 'scan', 'auto']) : 'fused';
        const exp = await check(['export', '--weights', weights, '--out', out, '--form', form]);
        if (exp.code === 0) {
          // A harmless mutation must still give a valid model, and (seed) one verify can check cheaply.
          if (!structurallyValid(readFileSync(out))) summary.failures.push({ index, target, mutation, why: 'export exited 0 but wrote an invalid model', run: exp });
          if (target === 'checkpoint') await check(['verify', '--model', out, '--weights', weights, '--backends', 'reference', '--shapes', SHAPES, '--json'], [0]);
        }
      } else if (target === 'tfjs') {
        const dir = join(caseDir, 'tfjs');
        mkdirSync(dir);
        let json = seeds.tfjsJson;
        let weights = seeds.tfjsWeights;
        const r = rng.int(4);
        if (r < 2) {
          const m = mutateModelJson(rng, json);
          json = m.value;
          mutation = m.label;
        } else if (r === 2) {
          const m = mutateBytes(rng, weights, [0, 4, weights.length >> 1, weights.length]);
          weights = m.value;
          mutation = `weights.bin: ${m.label}`;
        }
        let text = JSON.stringify(json);
        if (r === 3) {
          const m = mutateBytes(rng, new TextEncoder().encode(text));
          text = new TextDecoder().decode(m.value);
          mutation = `model.json: ${m.label}`;
        }
        writeFileSync(join(dir, 'model.json'), text);
        writeFileSync(join(dir, 'weights.bin'), weights);
        await check(['export', '--weights', rng.int(2) === 0 ? dir : join(dir, 'model.json'), '--out', join(caseDir, 'out.onnx')]);
      } else if (target === 'onnx') {
        const m = mutateModelBytes(rng, pickOne(rng, seeds.models));
        mutation = m.label;
        const model = join(caseDir, 'model.onnx');
        writeFileSync(model, m.value);
        await check(['inspect', model, ...(rng.int(2) === 0 ? ['--json'] : [])]);
        const valid = structurallyValid(m.value);
        const ort = valid && summary.ortRuns < ortBudget;
        if (ort) summary.ortRuns++;
        else if (valid) summary.validButNotRun++;
        await check(['verify', '--model', model, '--weights', seedCkpt, '--backends', ort ? 'reference,ort-cpu' : 'reference', '--shapes', SHAPES, '--json']);
      } else {
        const dir = join(caseDir, 'bundle');
        const files = new Map(seeds.bundle);
        const names = [...files.keys()];
        const name = pickOne(rng, names);
        const r = rng.int(6);
        if (r === 0) {
          files.delete(name);
          mutation = `${name} deleted`;
        } else if (r === 1) {
          const other = pickOne(rng, names);
          files.set(other, files.get(name)!);
          mutation = `${other} replaced by a copy of ${name}`;
        } else {
          const bytes = files.get(name)!;
          const m = name === 'model.onnx' ? mutateModelBytes(rng, bytes) : r < 4 ? mutateTensorProto(rng, bytes) : mutateBytes(rng, bytes);
          files.set(name, m.value);
          mutation = `${name}: ${m.label}`;
        }
        for (const [p, bytes] of files) {
          mkdirSync(join(dir, p, '..'), { recursive: true });
          writeFileSync(join(dir, p), bytes);
        }
        let loads = false;
        try {
          const b = loadBundle(dir);
          loads = structurallyValid(b.model);
        } catch (err) {
          if (!(err instanceof UserError)) summary.failures.push({ index, target, mutation, why: `loadBundle threw ${String(err)}` });
        }
        if (files.has('model.onnx')) await check(['inspect', join(dir, 'model.onnx')]);
        // A bundle that loads runs on onnxruntime (no reference without weights); one that does not stops before it.
        if (!loads || summary.ortRuns < ortBudget) {
          if (loads) summary.ortRuns++;
          await check(['verify', '--bundle', dir, '--backends', 'ort-cpu', '--json']);
        } else {
          summary.validButNotRun++;
        }
      }
      if (uncaught.length > before) summary.failures.push({ index, target, mutation, why: `uncaught: ${String(uncaught[uncaught.length - 1])}` });
      summary.peakRssMb = Math.max(summary.peakRssMb, Math.round(process.memoryUsage().rss / 2 ** 20));
      options.onProgress?.(n + 1, indices.length);
    }
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    rmSync(options.workDir, { recursive: true, force: true });
  }
  summary.totalMs = Math.round(performance.now() - t0);
  summary.maxRunMs = Math.round(summary.maxRunMs);
  return summary;
}

/** The summary as the lines fuzz.ts prints and the README quotes. */
export function formatSummary(s: FuzzSummary, verbose = false): string {
  const exits = Object.entries(s.exits)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([code, n]) => `exit ${code}: ${n}`)
    .join(', ');
  const lines = [
    `fuzz seed ${s.seed}: ${s.cases} cases, ${s.runs} CLI runs (${exits}); ${s.failures.length} contract violations`,
    `targets: ${Object.entries(s.targets).map(([t, n]) => `${t} ${n}`).join(', ')}`,
    `onnxruntime runs: ${s.ortRuns} (${s.validButNotRun} more valid mutations past the budget); slowest run ${s.maxRunMs} ms; peak RSS ${s.peakRssMb} MB; total ${(s.totalMs / 1000).toFixed(1)} s`,
  ];
  for (const m of s.mismatches.slice(0, verbose ? Infinity : 5)) lines.push(`exit 1, case ${m.index} (${m.mutation}): ${m.message.slice(0, 200)}`);
  for (const f of s.failures.slice(0, 20)) {
    lines.push(`FAIL case ${f.index} (${f.target}, ${f.mutation}): ${f.why}`);
    if (f.run) lines.push(`  gru-onnx ${f.run.argv.join(' ')}`, ...f.run.stderr.trim().split('\n').slice(0, 6).map((l) => `  | ${l}`));
  }
  return lines.join('\n');
}
