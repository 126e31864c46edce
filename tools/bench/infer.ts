/**
 * Inference benchmark (issue 3, item 8): onnxruntime-node CPU, one thread, seed sizes, seq 10, batch 1 / 64 / 1024,
 * each export form beside the graph PyTorch 1.13's exporter makes of the seed model
 * (fixtures/pytorch-export/model.onnx, same weights). Prints µs per run and each form's ratio to the faster of the
 * two baselines (the fused GRU node and PyTorch's unrolled graph), then shows that PyTorch's graph is wrong at
 * seq 20 while the default export is exact.
 *
 *   npx tsx tools/bench/infer.ts [--quick]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint, referenceForward, Rng } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import type { ExportOptions } from '@gru-onnx/onnx';
import { exportTunedSeedModel } from '../../packages/onnx/src/export-seed.ts';
import type { ExportTuning } from '../../packages/onnx/src/seed-graph.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PYTORCH_FIXTURE = join(ROOT, 'fixtures', 'pytorch-export');

/** The fixture's weights, through the checkpoint reader (validated: names, shapes, dtype, offsets). */
export function readFixtureWeights(path = join(PYTORCH_FIXTURE, 'weights.safetensors')): SeedParams {
  return loadCheckpoint(path).params;
}

export interface Candidate {
  name: string;
  bytes: Uint8Array;
  baseline: boolean;
}

export interface BenchRow {
  batch: number;
  /** µs per run, median over rounds. */
  us: Record<string, number>;
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

/** Median over `rounds` of the mean time per run, each round about `roundMs` long. */
async function timeRuns(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, rounds: number, roundMs: number): Promise<number> {
  for (let i = 0; i < 20; i++) await s.run(feeds);
  let t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < roundMs) {
    await s.run(feeds);
    n++;
  }
  const perRound = Math.max(5, n);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) await s.run(feeds);
    samples.push(((performance.now() - t0) * 1000) / perRound);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export async function benchmark(
  candidates: Candidate[],
  { batches = [1, 64, 1024], seq = 10, rounds = 7, roundMs = 150 } = {},
): Promise<BenchRow[]> {
  const rng = new Rng(7);
  const sessions = await Promise.all(candidates.map((c) => session(c.bytes)));
  const rows: BenchRow[] = [];
  for (const batch of batches) {
    const x = new ort.Tensor('float32', rng.normals(batch * seq * 8), [batch, seq, 8]);
    const us: Record<string, number> = {};
    // Interleave candidates round by round so drift on a shared machine hits all of them alike.
    const acc: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of candidates.entries()) {
        (acc[c.name] ??= []).push(await timeRuns(sessions[i]!, { x }, 1, roundMs));
      }
    }
    for (const c of candidates) {
      const a = acc[c.name]!.sort((p, q) => p - q);
      us[c.name] = a[Math.floor(a.length / 2)]!;
    }
    rows.push({ batch, us });
  }
  return rows;
}

export function formatTable(candidates: Candidate[], rows: BenchRow[]): string {
  const baselines = candidates.filter((c) => c.baseline).map((c) => c.name);
  const lines = [
    `| batch | ${candidates.map((c) => `${c.name} µs`).join(' | ')} | ${candidates.filter((c) => !c.baseline).map((c) => `${c.name} ÷ faster baseline`).join(' | ')} |`,
    `| ---: | ${candidates.map(() => '---:').join(' | ')} | ${candidates.filter((c) => !c.baseline).map(() => '---:').join(' | ')} |`,
  ];
  for (const r of rows) {
    const best = Math.min(...baselines.map((b) => r.us[b]!));
    const ratios = candidates.filter((c) => !c.baseline).map((c) => `${(r.us[c.name]! / best).toFixed(2)}×`);
    lines.push(`| ${r.batch} | ${candidates.map((c) => r.us[c.name]!.toFixed(1)).join(' | ')} | ${ratios.join(' | ')} |`);
  }
  return lines.join('\n');
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs both graphs at seq 20 on the fixture's input and compares with the float64 reference. */
export async function seq20Check(params: SeedParams, ours: Uint8Array): Promise<{ pytorchErr: number; pytorchVsFirst10: number; oursErr: number }> {
  const expected = JSON.parse(readFileSync(join(PYTORCH_FIXTURE, 'expected.json'), 'utf8')) as Record<string, { shape: number[]; data: number[] }>;
  const x20 = expected.x_seq20!;
  const [B, T] = x20.shape as [number, number];
  const ref = referenceForward(params, x20.data, B, T);
  const x = new ort.Tensor('float32', Float32Array.from(x20.data), x20.shape);
  const pt = (await (await session(readFileSync(join(PYTORCH_FIXTURE, 'model.onnx')))).run({ x })).logits!.data as Float32Array;
  const ou = (await (await session(ours)).run({ x })).logits!.data as Float32Array;
  return {
    pytorchErr: maxAbs(pt, ref.logits),
    pytorchVsFirst10: maxAbs(pt, expected.logits_seq20_first10!.data),
    oursErr: maxAbs(ou, ref.logits),
  };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { quick } = parseArgs({ args: argv, strict: true, options: { quick: { type: 'boolean', default: false } } }).values;
  const params = readFixtureWeights();
  const form = (o: ExportOptions, tuning: ExportTuning = {}) => exportTunedSeedModel(params, { opset: 17, ...o }, tuning);
  const candidates: Candidate[] = [
    // The issue's baseline: the GRU node alone, which aborts onnxruntime on an empty x (seq 0 or batch 0).
    { name: 'fused node', bytes: form({ form: 'fused' }, { fusedEmptyGuard: false }), baseline: true },
    { name: 'pytorch', bytes: readFileSync(join(PYTORCH_FIXTURE, 'model.onnx')), baseline: true },
    // The exported fused form: the same node behind the empty-x guard, the cheapest exact graph around it.
    { name: 'fused', bytes: form({ form: 'fused' }), baseline: false },
    { name: 'scan', bytes: form({ form: 'scan' }), baseline: false },
    { name: 'auto', bytes: form({}), baseline: false },
    // auto without its exactness: the batch switch alone (Shape → Gather → Less → If), which aborts at seq 0.
    // At batch 1 it runs the bare node's kernels plus the If, so it is the floor of any run-time choice of form.
    { name: 'switch only', bytes: form({}, { autoEmptyGuard: false }), baseline: false },
  ];
  for (const extra of (process.env.GRU_ONNX_BENCH_EXTRA ?? '').split(',').filter(Boolean)) {
    // FORM@OPSET[:flag...], e.g. scan@8, auto@9, scan@17:loop (Loop body), auto@17:t48 (batch threshold 48),
    // auto@17:hoisted (the hoisted scan in auto's large-batch branch), fused@17:noguard and auto@17:noguard (no
    // empty-x guard: abort on an empty x, for measuring only).
    const [f, rest] = extra.split('@');
    const [o, ...flags] = (rest ?? '17').split(':');
    const threshold = flags.find((f) => /^t\d+$/.test(f));
    const opts: ExportOptions = {
      form: f as ExportOptions['form'],
      opset: Number(o),
      ...(threshold ? { autoBatchThreshold: Number(threshold.slice(1)) } : {}),
    };
    const tuning: ExportTuning = {
      loop: flags.includes('loop'),
      autoEmptyGuard: !flags.includes('noguard'),
      fusedEmptyGuard: !flags.includes('noguard'),
      ...(flags.includes('hoisted') ? { autoProjection: 'hoisted' as const } : {}),
    };
    candidates.push({ name: extra, bytes: exportTunedSeedModel(params, opts, tuning), baseline: false });
  }
  console.log(`onnxruntime-node ${ort.env.versions.node ?? ''} CPU, intraOpNumThreads 1, seed sizes (8/16/4), seq 10; µs per run (median)`);
  const batches = (process.env.GRU_ONNX_BENCH_BATCHES ?? '1,64,1024').split(',').map(Number);
  const rows = await benchmark(candidates, quick ? { batches, rounds: 3, roundMs: 60 } : { batches });
  console.log(formatTable(candidates, rows));
  const c = await seq20Check(params, candidates.find((k) => k.name === 'auto')!.bytes);
  console.log(
    `seq 20 (traced at 10): PyTorch's graph max |logits − reference| = ${c.pytorchErr.toExponential(2)}; ` +
      `vs PyTorch's own answer on the first 10 steps ${c.pytorchVsFirst10.toExponential(2)} (it ran 10 steps); ` +
      `default export max |logits − reference| = ${c.oursErr.toExponential(2)}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
