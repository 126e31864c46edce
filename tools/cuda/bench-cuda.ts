// CUDA benchmark: latency and throughput of onnxruntime-node's CUDA EP beside its CPU EP, same process, same
// machine, same models, batches 1, 64, 1024 and 16 384 (issue 8, item 3).
//
//   node bench-cuda.mjs --model fused=model-fused.onnx --model scan=model-scan.onnx
//                       [--batches 1,64,1024,16384] [--seq 10] [--eps cuda,cpu] [--cpu-threads 1,all]
//                       [--min-ms 400] [--max-iters 200] [--json FILE] [--md FILE]
//
// Latency is wall time of one `session.run` with CPU-resident feeds and outputs (host↔device copies included, as
// a Node caller sees it); throughput is sequences per second at the median latency. Before timing, a profiled
// session records which execution provider ran each node, so a CUDA row cannot silently be a CPU result.
// Exit code 3 when an EP named in --require cannot create a session.
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

// Minimal typing of the onnxruntime-node surface used here; it is loaded at run time (shipped beside the bundle).
interface OrtTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string; isTensor: boolean; shape?: readonly (number | string)[] }[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  endProfiling(): void;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(path: string, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: Record<string, string> };
}

export interface BenchRow {
  model: string;
  ep: string;
  threads: number | null;
  batch: number;
  seq: number;
  iterations: number;
  latencyMsMedian: number;
  latencyMsP10: number;
  latencyMsP90: number;
  latencyMsMean: number;
  sequencesPerSecond: number;
  /** Max |cuda − cpu| of the outputs at this batch, on the CUDA rows (same feeds). */
  maxAbsDiffVsCpu?: number;
}

export interface Placement {
  node: string;
  op: string;
  provider: string;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Deterministic feeds: a 32-bit LCG mapped to [-1, 1). */
function feedData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Node → provider from an onnxruntime profile (its "Node" events name the provider in args). */
export function placementsFromProfile(json: string): Placement[] {
  const events = JSON.parse(json) as { cat?: string; name?: string; args?: { op_name?: string; provider?: string } }[];
  const seen = new Map<string, Placement>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.args?.provider || !e.name) continue;
    const node = e.name.replace(/_(kernel_time|fence_before|fence_after)$/, '');
    seen.set(node, { node, op: e.args.op_name ?? '?', provider: e.args.provider });
  }
  return [...seen.values()];
}

function gpuInfo(): string {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 15_000,
    }).trim();
  } catch (err) {
    return `nvidia-smi unavailable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
}

function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 1000 ? n.toFixed(0) : n.toPrecision(digits);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      model: { type: 'string', multiple: true },
      batches: { type: 'string' },
      seq: { type: 'string' },
      eps: { type: 'string' },
      require: { type: 'string' },
      'cpu-threads': { type: 'string' },
      'min-ms': { type: 'string' },
      'max-iters': { type: 'string' },
      'device-id': { type: 'string' },
      ort: { type: 'string' },
      json: { type: 'string' },
      md: { type: 'string' },
    },
  });
  const one = (k: Exclude<keyof typeof values, 'model'>, d: string): string => values[k] ?? d;
  const models = (values.model ?? []).map((m) => {
    const eq = m.indexOf('=');
    return eq > 0 ? { name: m.slice(0, eq), path: m.slice(eq + 1) } : { name: m, path: m };
  });
  if (models.length === 0) {
    console.error('error: usage: bench-cuda --model NAME=FILE.onnx [--model ...] [--batches 1,64,1024,16384] [--seq 10] [--eps cuda,cpu]');
    return 2;
  }
  const batches = one('batches', '1,64,1024,16384').split(',').map(Number);
  const seq = Number(one('seq', '10'));
  const eps = one('eps', 'cuda,cpu').split(',');
  const required = one('require', '').split(',').filter(Boolean);
  const allThreads = availableParallelism();
  const cpuThreads = one('cpu-threads', '1,all')
    .split(',')
    .map((t) => (t === 'all' ? allThreads : Number(t)));
  const minMs = Number(one('min-ms', '400'));
  const maxIters = Number(one('max-iters', '200'));
  const deviceId = Number(one('device-id', '0'));
  const req = createRequire(import.meta.url);
  const ortPath = one('ort', req.resolve('onnxruntime-node'));
  const ort = req(ortPath) as Ort;

  const header = {
    date: new Date().toISOString(),
    gpu: gpuInfo(),
    cpu: `${cpus()[0]?.model ?? '?'} × ${allThreads}`,
    node: process.version,
    onnxruntime: ort.env.versions ?? {},
    onnxruntimeNodePath: ortPath,
    NVIDIA_TF32_OVERRIDE: process.env.NVIDIA_TF32_OVERRIDE ?? '(unset: CUDA EP default use_tf32=1)',
    CUDA_MODULE_LOADING: process.env.CUDA_MODULE_LOADING ?? '(unset)',
    latency: 'wall time of one session.run, CPU-resident feeds and outputs (copies included)',
    seq,
  };
  console.log(`bench-cuda: ${JSON.stringify(header)}`);

  const rows: BenchRow[] = [];
  const placements: Record<string, Placement[]> = {};
  const errors: Record<string, string> = {};
  const configs: { ep: string; threads: number | null }[] = [];
  for (const ep of eps) {
    if (ep === 'cpu') for (const t of cpuThreads) configs.push({ ep, threads: t });
    else configs.push({ ep, threads: null });
  }
  for (const model of models) {
    const cpuOutputs = new Map<number, Float32Array>();
    // CPU first (one thread config is enough for the reference outputs), then the others.
    const ordered = [...configs].sort((a, b) => (a.ep === 'cpu' ? -1 : 0) - (b.ep === 'cpu' ? -1 : 0));
    for (const cfg of ordered) {
      const label = `${model.name}/${cfg.ep}${cfg.threads ? `-${cfg.threads}t` : ''}`;
      const sessionOptions = (profile?: string): Record<string, unknown> => ({
        executionProviders: cfg.ep === 'cuda' ? [{ name: 'cuda', deviceId }] : [cfg.ep],
        intraOpNumThreads: cfg.threads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
      });
      // Placements from one profiled run.
      const dir = mkdtempSync(join(tmpdir(), 'bench-cuda-'));
      try {
        const t0 = performance.now();
        const ps = await ort.InferenceSession.create(model.path, sessionOptions(join(dir, 'p')));
        const createMs = performance.now() - t0;
        const b = batches[0]!;
        const inSize = inputSize(ps);
        await ps.run({ [ps.inputNames[0]!]: new ort.Tensor('float32', feedData(b * seq * inSize, 1), [b, seq, inSize]) });
        ps.endProfiling();
        await ps.release();
        const file = readdirSync(dir).find((f) => f.endsWith('.json'));
        placements[label] = file ? placementsFromProfile(readFileSync(join(dir, file), 'utf8')) : [];
        const byEp = summarize(placements[label]);
        console.log(`${label}: session created in ${createMs.toFixed(0)} ms; placements ${byEp}`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        errors[label] = msg;
        console.error(`${label}: UNAVAILABLE: ${msg.split('\n')[0]}`);
        continue;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const session = await ort.InferenceSession.create(model.path, sessionOptions());
      const inSize = inputSize(session);
      for (const batch of batches) {
        const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', feedData(batch * seq * inSize, 7 + batch), [batch, seq, inSize]) };
        let out: Record<string, OrtTensor> = {};
        for (let i = 0; i < 3; i++) out = await session.run(feeds);
        const times: number[] = [];
        const start = performance.now();
        while (times.length < maxIters && (times.length < 5 || performance.now() - start < minMs)) {
          const t = performance.now();
          out = await session.run(feeds);
          times.push(performance.now() - t);
        }
        times.sort((x, y) => x - y);
        const median = quantile(times, 0.5);
        const first = out[session.outputNames[0]!]!.data;
        const row: BenchRow = {
          model: model.name,
          ep: cfg.ep,
          threads: cfg.threads,
          batch,
          seq,
          iterations: times.length,
          latencyMsMedian: median,
          latencyMsP10: quantile(times, 0.1),
          latencyMsP90: quantile(times, 0.9),
          latencyMsMean: times.reduce((s, x) => s + x, 0) / times.length,
          sequencesPerSecond: (batch / median) * 1000,
        };
        if (cfg.ep === 'cpu' && !cpuOutputs.has(batch)) cpuOutputs.set(batch, Float32Array.from(first));
        else if (cfg.ep !== 'cpu' && cpuOutputs.has(batch)) {
          const ref = cpuOutputs.get(batch)!;
          let m = 0;
          for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(ref[i]! - first[i]!));
          row.maxAbsDiffVsCpu = m;
        }
        rows.push(row);
        console.log(
          `${label.padEnd(22)} batch ${String(batch).padStart(6)}: median ${fmt(median)} ms (p10 ${fmt(row.latencyMsP10)}, p90 ${fmt(row.latencyMsP90)}, n=${times.length}), ${fmt(row.sequencesPerSecond)} seq/s` +
            (row.maxAbsDiffVsCpu !== undefined ? `, max|Δ| vs cpu ${row.maxAbsDiffVsCpu.toExponential(2)}` : ''),
        );
      }
      await session.release();
    }
  }

  const table = markdownTable(rows);
  console.log(`\n${table}`);
  const report = { ...header, rows, placements, errors };
  const jsonPath = values.json;
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const mdPath = values.md;
  if (mdPath) writeFileSync(mdPath, `# CUDA benchmark\n\n${Object.entries(header).map(([k, v]) => `- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n')}\n\n${table}\n`);
  const missing = required.filter((ep) => Object.keys(errors).some((l) => l.split('/')[1]!.startsWith(ep)));
  if (missing.length > 0) {
    console.error(`error: required EP unavailable: ${missing.join(', ')}`);
    return 3;
  }
  return 0;
}

function inputSize(s: OrtSession): number {
  const meta = s.inputMetadata?.[0];
  const last = meta?.shape?.at(-1);
  if (typeof last === 'number' && last > 0) return last;
  throw new Error(`cannot read the input size of ${s.inputNames[0]} from the model's metadata`);
}

function summarize(ps: Placement[]): string {
  const counts = new Map<string, number>();
  for (const p of ps) counts.set(`${p.op}@${p.provider}`, (counts.get(`${p.op}@${p.provider}`) ?? 0) + 1);
  return [...counts.entries()].map(([k, v]) => `${k}×${v}`).join(' ') || '(none recorded)';
}

export function markdownTable(rows: readonly BenchRow[]): string {
  const lines = [
    '| model | EP | threads | batch | median ms | p10 ms | p90 ms | seq/s | max abs diff vs CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.model} | ${r.ep} | ${r.threads ?? '-'} | ${r.batch} | ${fmt(r.latencyMsMedian)} | ${fmt(r.latencyMsP10)} | ${fmt(r.latencyMsP90)} | ${fmt(r.sequencesPerSecond)} | ${r.maxAbsDiffVsCpu === undefined ? '' : r.maxAbsDiffVsCpu.toExponential(2)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && /bench-cuda\.(ts|mjs|js)$/.test(process.argv[1])) {
  process.exitCode = await main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  });
}
