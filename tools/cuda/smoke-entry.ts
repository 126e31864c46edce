// A stand-in for the gru-onnx CLI on the GPU machine, for testing the offline CUDA path before (or without) the
// real `doctor`/`verify` commands: same command shapes and exit codes, built on the real ort-cpu and ort-cuda
// runners of packages/verify. It compares ort-cuda with ort-cpu (not with the float64 reference).
//
//   smoke doctor --json
//   smoke verify --model F.onnx [--weights F] --backends ort-cpu,ort-cuda [--require ort-cuda] [--shapes BxT,...]
//                [--report DIR] [--json]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Runner, RunResult } from '../../packages/verify/src/runner.ts';
import { createOrtCpuRunner } from '../../packages/verify/src/runners/ort-cpu.ts';
import { float32Data } from '../../packages/verify/src/tensor.ts';
import { createOrtCudaRunner } from '../../packages/verify/src/runners/ort-cuda.ts';

type Args = Map<string, string | boolean>;

function parse(argv: string[]): { cmd: string; args: Args } {
  const { positionals, values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      model: { type: 'string' },
      backends: { type: 'string' },
      require: { type: 'string' },
      shapes: { type: 'string' },
      'input-size': { type: 'string' },
      report: { type: 'string' },
    },
  });
  const [cmd = '', ...rest] = positionals;
  if (rest.length > 0) throw new Error(`unexpected argument ${rest[0]}`);
  return { cmd, args: new Map(Object.entries(values).filter((e): e is [string, string | boolean] => e[1] !== undefined)) };
}

const RUNNERS: Record<string, () => Runner> = {
  'ort-cpu': () => createOrtCpuRunner({ timeoutMs: 120_000 }),
  'ort-cuda': () => createOrtCudaRunner({ timeoutMs: 120_000 }),
};

function feeds(batch: number, seq: number, input: number): Float32Array {
  const a = new Float32Array(batch * seq * input);
  let s = (batch * 7919 + seq) >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

async function doctor(args: Args): Promise<number> {
  const out = [];
  for (const [name, make] of Object.entries(RUNNERS)) {
    const r = make();
    out.push({ name, ...(await r.probe()) });
    await r.close();
  }
  if (args.has('json')) console.log(JSON.stringify({ tool: 'smoke-entry', backends: out }, null, 2));
  else for (const b of out) console.log(`${b.name}: ${b.available ? 'available' : `unavailable: ${b.reason}`}`);
  return 0;
}

async function verify(args: Args): Promise<number> {
  const modelPath = args.get('model');
  if (typeof modelPath !== 'string') throw new Error('--model is required');
  const model = new Uint8Array(readFileSync(modelPath));
  const names = String(args.get('backends') ?? 'ort-cpu,ort-cuda').split(',');
  const required = String(args.get('require') ?? '').split(',').filter(Boolean);
  const shapes = String(args.get('shapes') ?? '1x10,64x10')
    .split(',')
    .map((s) => s.split('x').map(Number) as [number, number]);
  const inputSize = Number(args.get('input-size') ?? 8);
  const report: Record<string, unknown> = { tool: 'smoke-entry', model: modelPath, backends: {}, cases: [] };
  const backends = report.backends as Record<string, unknown>;
  const runners: Runner[] = [];
  let code = 0;
  for (const n of new Set([...names, ...required])) {
    const make = RUNNERS[n];
    if (!make) throw new Error(`backend ${n} is not in the smoke entry`);
    const r = make();
    const p = await r.probe();
    backends[n] = p;
    if (p.available) runners.push(r);
    else if (required.includes(n)) code = 3;
    if (!p.available) console.error(`${n}: unavailable: ${p.reason}`);
  }
  for (const [batch, seq] of shapes) {
    const job = { model, feeds: { x: { dims: [batch, seq, inputSize], data: feeds(batch, seq, inputSize) } }, outputNames: ['logits'] };
    const results: Record<string, RunResult> = {};
    for (const r of runners) results[r.name] = await r.run(job);
    const cpuLogits = results['ort-cpu']?.outputs.logits;
    const cpu = cpuLogits ? float32Data(cpuLogits) : undefined;
    const row: Record<string, unknown> = { batch, seq };
    for (const [n, res] of Object.entries(results)) {
      const eps = [...new Set(res.placements.map((p) => `${p.opType}@${p.ep}`))];
      let maxAbs = 0;
      const d = float32Data(res.outputs.logits!);
      if (cpu) for (let i = 0; i < d.length; i++) maxAbs = Math.max(maxAbs, Math.abs(d[i]! - cpu[i]!));
      row[n] = { maxAbsVsCpu: maxAbs, placements: eps, settings: res.settings };
      if (!args.has('json')) console.log(`${batch}x${seq} ${n}: max|Δ| vs ort-cpu ${maxAbs.toExponential(2)}; ${eps.join(' ')}`);
    }
    (report.cases as unknown[]).push(row);
  }
  for (const r of runners) await r.close();
  const dir = args.get('report');
  if (typeof dir === 'string') {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2));
  }
  if (args.has('json')) console.log(JSON.stringify(report, null, 2));
  return code;
}

const { cmd, args } = parse(process.argv.slice(2));
const commands: Record<string, (a: Args) => Promise<number>> = { doctor, verify };
const run = commands[cmd];
if (!run) {
  console.error(`error: unknown command '${cmd}' (smoke entry: doctor, verify)`);
  process.exit(2);
}
process.exit(
  await run(args).catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }),
);
