/**
 * Recurrent-import benchmark (issue 19, item 5): a 2-layer bidirectional LSTM and GRU, hidden 256, input 64, seq
 * 100, a Linear head of 10 classes on the last step's output, at batch 1 and 64, on onnxruntime-node CPU with one
 * thread, through the real import path: tools/bench/pytorch_recurrent.py writes the PyTorch module's state_dict
 * with python/gru_onnx_torch.py's save_state_dict, then loadSourceModel → exportSourceModel with each form.
 *
 * Printed, from one run: per cell and batch, the default export (no options: form auto, target cpu), the fused and
 * the scan forms, and PyTorch eager on the same module and weights with torch.set_num_threads(1), each the median
 * of interleaved samples; the default ÷ the faster of its own fused and scan forms (target ≤ 1.05×), and PyTorch ÷
 * the default. Before timing, each form's logits are checked against PyTorch's on one input (max |Δ|).
 *
 *   npx tsx tools/bench/recurrent.ts [--quick] [--cells lstm,gru] [--batches 1,64] [--rounds N] [--torch-rounds N]
 *                                    [--skip-pytorch]
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadSourceModel, Rng } from '@gru-onnx/model';
import { exportSourceModel, onnx } from '@gru-onnx/onnx';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pytorch_recurrent.py', import.meta.url));

export const CELLS = ['lstm', 'gru'] as const;
export type Cell = (typeof CELLS)[number];
/** The variants timed for each cell: the default export first, then its two forms. */
export const VARIANTS = ['default', 'fused', 'scan'] as const;
export type Variant = (typeof VARIANTS)[number];
/** The target: the default export at most this much slower than the faster of its own fused and scan forms. */
export const TARGET_RATIO = 1.05;

export interface RecurrentBenchOptions {
  cells: readonly Cell[];
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  outputSize: number;
  seq: number;
  batches: readonly number[];
  /** Interleaved onnxruntime samples per (cell, batch, variant); the median is reported. */
  rounds: number;
  /** PyTorch samples per (cell, batch), interleaved with the first rounds (PyTorch eager is slow here). */
  torchRounds: number;
  /** Each sample repeats runs until this long has passed (at least one run). */
  sampleMs: number;
  skipPytorch: boolean;
  print: (line: string) => void;
}

export const RECURRENT_BENCH_DEFAULTS: RecurrentBenchOptions = {
  cells: CELLS,
  inputSize: 64,
  hiddenSize: 256,
  numLayers: 2,
  outputSize: 10,
  seq: 100,
  batches: [1, 64],
  rounds: 7,
  torchRounds: 3,
  sampleMs: 300,
  skipPytorch: false,
  print: (line) => console.log(line),
};

export interface CellExport {
  cell: Cell;
  /** The import's source kind, as loadSourceModel detected it. */
  kind: string;
  /** Model bytes per variant, or why that variant could not be exported. */
  variants: Record<Variant, { bytes: Uint8Array } | { unavailable: string }>;
  /** The default export's metadata (gru_onnx.form, gru_onnx.target) and its top-level op types. */
  defaultForm: string;
  /** max |logits − PyTorch's| per variant on one input of the benchmark's seq (batch 2). */
  parity: Partial<Record<Variant, number>>;
}

export interface RecurrentRow {
  cell: Cell;
  batch: number;
  /** ms per run (wall), median of the rounds; undefined when the variant is unavailable. */
  ms: Partial<Record<Variant, number>>;
  /** The same from CPU time. */
  cpuMs: Partial<Record<Variant, number>>;
  /** PyTorch eager, ms per forward (median wall, and CPU); undefined when skipped or unavailable. */
  torchMs?: number;
  torchCpuMs?: number;
  /** default ÷ min(fused, scan), by wall time and by CPU time. */
  defaultVsBest?: number;
  defaultVsBestCpu?: number;
  /** PyTorch ÷ default: how many times faster the default export is, by wall time and by CPU time. */
  torchVsDefault?: number;
  torchVsDefaultCpu?: number;
}

export interface RecurrentBenchResult {
  exports: CellExport[];
  rows: RecurrentRow[];
  torch?: { version: string; threads: number };
  torchUnavailable?: string;
  load: { start: number[]; end: number[] };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** The PyTorch process of pytorch_recurrent.py serve: one JSON request/reply per line. */
class TorchServer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    private readonly rl: Interface,
    readonly info: { version: string; threads: number },
  ) {}

  static async start(files: Record<string, string>, o: RecurrentBenchOptions): Promise<TorchServer> {
    const args = [SCRIPT, 'serve', '--threads', '1', ...sizeArgs(o), ...Object.entries(files).map(([c, f]) => `${c}=${f}`)];
    const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const rl = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`${PYTHON} ${SCRIPT} serve exited before it was ready: ${stderr.trim().split('\n').at(-1) ?? ''}`);
    const ready = JSON.parse(first.value) as { torch: string; threads: number };
    return new TorchServer(child, lines, rl, { version: ready.torch, threads: ready.threads });
  }

  async ask<T>(request: string): Promise<T> {
    this.child.stdin.write(`${request}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error(`PyTorch process ended during '${request}'`);
    const reply = JSON.parse(line.value) as T & { error?: string };
    if (reply.error) throw new Error(`PyTorch process: ${reply.error}`);
    return reply;
  }

  close(): void {
    this.child.stdin.end('quit\n');
    this.rl.close();
  }
}

function sizeArgs(o: RecurrentBenchOptions): string[] {
  return ['--input-size', String(o.inputSize), '--hidden-size', String(o.hiddenSize), '--num-layers', String(o.numLayers), '--output-size', String(o.outputSize)];
}

function torchProbe(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    return undefined;
  } catch (err) {
    return `${PYTHON} with torch and numpy is not available (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); Debian: apt-get install python3-torch`;
  }
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
}

/** One timing sample: ms per run of wall time and of this process's CPU time. */
export interface Sample {
  wall: number;
  cpu: number;
}

/**
 * Runs repeated until `sampleMs` have passed, at least once. With one intra-op thread the session's work is one
 * thread's, so the process's CPU time measures it apart from the waits a loaded machine adds to wall time.
 */
async function sample(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, sampleMs: number): Promise<Sample> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  do {
    await s.run(feeds);
    n++;
  } while (performance.now() - t0 < sampleMs);
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / n, cpu: (c.user + c.system) / 1000 / n };
}

function describeDefault(bytes: Uint8Array): string {
  const m = onnx.ModelProto.decode(bytes);
  const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const ops = [...new Set((m.graph?.node ?? []).map((n) => n.opType ?? ''))].join(', ');
  const rule = meta['gru_onnx.auto'] ? ` (${meta['gru_onnx.auto']})` : '';
  return `form ${meta['gru_onnx.form'] ?? '?'}${rule}, target ${meta['gru_onnx.target'] ?? '?'}; top-level ops: ${ops}`;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Infinity;
}

/** Writes each cell's state_dict with PyTorch and exports it in every variant through the import path. */
function exportCells(dir: string, o: RecurrentBenchOptions): { exports: CellExport[]; files: Record<string, string> } {
  const files: Record<string, string> = {};
  const exports: CellExport[] = [];
  for (const cell of o.cells) {
    const file = join(dir, `${cell}.safetensors`);
    execFileSync(PYTHON, [SCRIPT, 'save', '--cell', cell, ...sizeArgs(o), '--out', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    files[cell] = file;
    const source = loadSourceModel(file, undefined, { head: 'last-step' });
    const variants = {} as CellExport['variants'];
    for (const v of VARIANTS) {
      try {
        variants[v] = { bytes: v === 'default' ? exportSourceModel(source) : exportSourceModel(source, { form: v, target: 'cpu' }) };
      } catch (err) {
        variants[v] = { unavailable: err instanceof Error ? err.message : String(err) };
      }
    }
    const d = variants.default;
    exports.push({ cell, kind: source.kind, variants, defaultForm: 'bytes' in d ? describeDefault(d.bytes) : 'unavailable', parity: {} });
  }
  return { exports, files };
}

export async function runRecurrentBench(partial: Partial<RecurrentBenchOptions> = {}): Promise<RecurrentBenchResult> {
  const o = { ...RECURRENT_BENCH_DEFAULTS, ...partial };
  const start = loadavg();
  const torchMissing = torchProbe();
  // The state_dicts are written by PyTorch: without it there is nothing to import.
  if (torchMissing) throw new Error(torchMissing);
  const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-bench-recurrent-'));
  let torch: TorchServer | undefined;
  try {
    const { exports, files } = exportCells(dir, o);
    if (!o.skipPytorch) torch = await TorchServer.start(files, o);
    const rng = new Rng(19);
    const sessions = new Map<string, ort.InferenceSession>();
    for (const e of exports) {
      for (const v of VARIANTS) {
        const b = e.variants[v];
        if ('bytes' in b) sessions.set(`${e.cell}/${v}`, await session(b.bytes));
      }
      // Parity: the same weights, the same x, PyTorch's answer against each form's.
      if (torch) {
        const x = Float32Array.from(rng.normals(2 * o.seq * o.inputSize));
        const path = join(dir, 'x.f32');
        writeFileSync(path, new Uint8Array(x.buffer));
        const { logits } = await torch.ask<{ logits: number[] }>(`logits ${e.cell} 2 ${o.seq} ${path}`);
        for (const v of VARIANTS) {
          const s = sessions.get(`${e.cell}/${v}`);
          if (!s) continue;
          const out = await s.run({ x: new ort.Tensor('float32', x, [2, o.seq, o.inputSize]) });
          e.parity[v] = maxAbs(out[s.outputNames[0]!]!.data as Float32Array, logits);
        }
      }
    }
    const rows: RecurrentRow[] = [];
    for (const e of exports) {
      for (const batch of o.batches) {
        const feeds = { x: new ort.Tensor('float32', Float32Array.from(rng.normals(batch * o.seq * o.inputSize)), [batch, o.seq, o.inputSize]) };
        const live = VARIANTS.filter((v) => sessions.has(`${e.cell}/${v}`));
        for (const v of live) await sessions.get(`${e.cell}/${v}`)!.run(feeds); // warm-up
        if (torch) await torch.ask(`time ${e.cell} ${batch} ${Math.min(o.seq, 10)} 0`);
        const acc: Partial<Record<Variant, Sample[]>> = {};
        const torchSamples: Sample[] = [];
        for (let r = 0; r < o.rounds; r++) {
          // Rotate the order each round so drift on a shared machine does not favour one variant.
          for (let k = 0; k < live.length; k++) {
            const v = live[(k + r) % live.length]!;
            (acc[v] ??= []).push(await sample(sessions.get(`${e.cell}/${v}`)!, feeds, o.sampleMs));
          }
          if (torch && r < o.torchRounds) {
            const t = await torch.ask<{ seconds: number; cpu_seconds: number }>(`time ${e.cell} ${batch} ${o.seq} ${o.sampleMs}`);
            torchSamples.push({ wall: t.seconds * 1000, cpu: t.cpu_seconds * 1000 });
          }
        }
        const ms: RecurrentRow['ms'] = {};
        const cpuMs: RecurrentRow['cpuMs'] = {};
        for (const v of live) {
          ms[v] = median(acc[v]!.map((a) => a.wall));
          cpuMs[v] = median(acc[v]!.map((a) => a.cpu));
        }
        const row: RecurrentRow = { cell: e.cell, batch, ms, cpuMs };
        if (ms.default !== undefined && (ms.fused !== undefined || ms.scan !== undefined)) {
          row.defaultVsBest = ms.default / Math.min(ms.fused ?? Infinity, ms.scan ?? Infinity);
          row.defaultVsBestCpu = cpuMs.default! / Math.min(cpuMs.fused ?? Infinity, cpuMs.scan ?? Infinity);
        }
        if (torchSamples.length > 0) {
          row.torchMs = median(torchSamples.map((t) => t.wall));
          row.torchCpuMs = median(torchSamples.map((t) => t.cpu));
          if (ms.default !== undefined) {
            row.torchVsDefault = row.torchMs / ms.default;
            row.torchVsDefaultCpu = row.torchCpuMs / cpuMs.default!;
          }
        }
        rows.push(row);
      }
    }
    return { exports, rows, ...(torch ? { torch: torch.info } : { torchUnavailable: 'skipped (--skip-pytorch)' }), load: { start, end: loadavg() } };
  } finally {
    torch?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (ms: number | undefined): string => (ms === undefined ? 'n/a' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

const times = (x: number | undefined, digits: number): string => (x === undefined ? 'n/a' : `${x.toFixed(digits)}×`);

/**
 * One table per clock: ms per run, then the two ratios the issue asks for. Wall time is what a user waits; CPU time
 * (one intra-op thread, so one thread's work) is what the run cost, apart from the waits of a loaded machine. The
 * target is judged on each clock separately: on a shared machine the wall-time ratio carries the load's noise.
 */
export function formatRecurrentTable(rows: readonly RecurrentRow[], clock: 'wall' | 'cpu' = 'wall'): string {
  const lines = [
    `| cell | batch | default ms | fused ms | scan ms | PyTorch eager ms | default ÷ faster form | target ≤ 1.05× | PyTorch ÷ default |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const r of rows) {
    const ms = clock === 'wall' ? r.ms : r.cpuMs;
    const ratio = clock === 'wall' ? r.defaultVsBest : r.defaultVsBestCpu;
    const met = ratio === undefined ? 'n/a' : ratio <= TARGET_RATIO ? 'met' : 'NOT met';
    const torch = clock === 'wall' ? r.torchMs : r.torchCpuMs;
    const vsTorch = clock === 'wall' ? r.torchVsDefault : r.torchVsDefaultCpu;
    lines.push(`| ${r.cell.toUpperCase()} | ${r.batch} | ${fmt(ms.default)} | ${fmt(ms.fused)} | ${fmt(ms.scan)} | ${fmt(torch)} | ${times(ratio, 2)} | ${met} | ${times(vsTorch, 1)} |`);
  }
  return lines.join('\n');
}

function printResult(res: RecurrentBenchResult, o: RecurrentBenchOptions): void {
  const p = o.print;
  for (const e of res.exports) {
    p(`${e.cell.toUpperCase()} (${e.kind}): default export = ${e.defaultForm}`);
    for (const v of VARIANTS) {
      const b = e.variants[v];
      if ('unavailable' in b) p(`  ${v}: unavailable: ${b.unavailable}`);
    }
    const parity = VARIANTS.filter((v) => e.parity[v] !== undefined).map((v) => `${v} ${e.parity[v]!.toExponential(1)}`);
    if (parity.length) p(`  max |logits − PyTorch's| at batch 2, seq ${o.seq}: ${parity.join(', ')}`);
  }
  p('wall time:');
  p(formatRecurrentTable(res.rows, 'wall'));
  p('CPU time (process, per run):');
  p(formatRecurrentTable(res.rows, 'cpu'));
  p(`load average at start ${res.load.start.map((l) => l.toFixed(2)).join(' ')}, at end ${res.load.end.map((l) => l.toFixed(2)).join(' ')}`);
}

/** `pnpm bench` calls main() with no arguments: the defaults. */
export async function main(argv: string[] = []): Promise<RecurrentBenchResult> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      cells: { type: 'string' },
      batches: { type: 'string' },
      rounds: { type: 'string' },
      'torch-rounds': { type: 'string' },
      'skip-pytorch': { type: 'boolean', default: false },
    },
  });
  const o: RecurrentBenchOptions = { ...RECURRENT_BENCH_DEFAULTS };
  if (values.quick) Object.assign(o, { rounds: 3, torchRounds: 1, sampleMs: 100 });
  if (values.cells) {
    const cells = values.cells.split(',');
    for (const c of cells) if (!(CELLS as readonly string[]).includes(c)) throw new Error(`--cells: '${c}' is not one of ${CELLS.join(', ')}`);
    o.cells = cells as Cell[];
  }
  const positive = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: '${v}' is not a positive integer`);
    return n;
  };
  if (values.batches) o.batches = values.batches.split(',').map((b) => positive('batches', b));
  if (values.rounds) o.rounds = positive('rounds', values.rounds);
  if (values['torch-rounds']) o.torchRounds = positive('torch-rounds', values['torch-rounds']);
  o.skipPytorch = values['skip-pytorch'] ?? false;
  o.print(
    `onnxruntime-node ${ort.env.versions.node ?? ''} CPU EP, intraOpNumThreads 1, sequential; ${o.numLayers}-layer bidirectional, input ${o.inputSize}, hidden ${o.hiddenSize}, ` +
      `${o.outputSize} classes on the last step (--head last-step), seq ${o.seq}; ms per run, median of ${o.rounds} interleaved samples (PyTorch: ${o.torchRounds}, torch.set_num_threads(1), no_grad)`,
  );
  const res = await runRecurrentBench(o);
  if (res.torch) o.print(`PyTorch ${res.torch.version} (${PYTHON}), ${res.torch.threads} thread`);
  printResult(res, o);
  return res;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
