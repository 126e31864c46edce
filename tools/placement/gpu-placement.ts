/**
 * Which recurrent cells and export forms each GPU execution provider actually runs on the GPU (issue 19, item 4).
 *
 * Exports each cell — GRU with linear_before_reset 0 and 1, LSTM with ONNX's default activations and with
 * tfjs's HardSigmoid, RNN with tanh and relu — through the recurrent chain (2 layers, bidirectional, input 5,
 * hidden 8, a Gemm head of 3), in each form (fused, scan, and auto for the EP's target), runs it on each named
 * backend at batch 1 and 256 (seq 6), and reads from the backend's placements (onnxruntime's profile or verbose log)
 * where the recurrent node, the Scan/Loop body's compute ops and the head ran. Every output is compared with
 * onnxruntime-node's CPU EP on the same model and input.
 *
 *   npx tsx tools/placement/gpu-placement.ts [--backends browser-webgpu,browser-webgpu-jsep] [--cases ids]
 *                                            [--forms fused,scan,auto] [--md FILE] [--json FILE] [--require]
 *
 * Exit 0 when every model ran (on or off the GPU: that is what the table records); 1 when a model failed to run or
 * export; 3 with --require when a backend is unavailable (so a GPU machine that cannot load the EP fails loudly).
 *
 * ort-cuda needs a GPU and the CUDA provider libraries: tools/cuda/remote.sh runs this on the GPU machine.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '@gru-onnx/model';
import { onnx } from '@gru-onnx/onnx';
import type { ExportTarget } from '@gru-onnx/onnx';
import { acceleratorCheck, ACCELERATED, COMPUTE_OPS, createRunner, defaultTolerances } from '@gru-onnx/verify';
import type { BackendName, Placement, Runner } from '@gru-onnx/verify';
import { exportRecurrentChain } from '../../packages/onnx/src/exporters/recurrent-chain.ts';
import type { OnnxCell, OnnxRecurrentLayer, RecurrentChain } from '../../packages/onnx/src/exporters/recurrent-chain.ts';

/** One cell variant: what a source model's layer becomes in ONNX. */
export interface CellCase {
  id: string;
  label: string;
  cell: OnnxCell;
  linearBeforeReset?: 0 | 1;
  activations?: OnnxRecurrentLayer['activations'];
}

export const CELL_CASES: readonly CellCase[] = [
  { id: 'gru-lbr0', label: 'GRU, linear_before_reset 0 (seed, tfjs reset_after false)', cell: 'GRU', linearBeforeReset: 0 },
  { id: 'gru-lbr1', label: 'GRU, linear_before_reset 1 (PyTorch, tfjs reset_after true)', cell: 'GRU', linearBeforeReset: 1 },
  { id: 'lstm', label: 'LSTM, Sigmoid/Tanh/Tanh (PyTorch)', cell: 'LSTM' },
  { id: 'lstm-hardsigmoid', label: 'LSTM, HardSigmoid/Tanh/Tanh (tfjs default)', cell: 'LSTM', activations: { names: ['HardSigmoid', 'Tanh', 'Tanh'], alpha: [0.2], beta: [0.5] } },
  { id: 'rnn-tanh', label: 'RNN, Tanh', cell: 'RNN' },
  { id: 'rnn-relu', label: 'RNN, Relu', cell: 'RNN', activations: { names: ['Relu'], alpha: [], beta: [] } },
];

export const FORMS = ['fused', 'scan', 'auto'] as const;
export type Form = (typeof FORMS)[number];

/** The backends whose GPU use is in question, with the export target `auto` is asked for. */
export const GPU_BACKENDS: Readonly<Partial<Record<BackendName, ExportTarget>>> = {
  'browser-webgpu': 'webgpu',
  'browser-webgpu-jsep': 'webgpu',
  'ort-cuda': 'cuda',
};

const SIZES = { input: 5, hidden: 8, output: 3, layers: 2, dirs: 2 as const, seq: 6 };
/** Two batches: a small one and a large one, so a graph that chooses its form by batch shows both branches. */
export const BATCHES = [1, 256] as const;

/** The chain for a cell case: 2 bidirectional layers of seeded weights, then a Gemm head on the final state. */
export function chainFor(c: CellCase, seed = 19): RecurrentChain {
  const rng = new Rng(seed);
  const G = { GRU: 3, LSTM: 4, RNN: 1 }[c.cell];
  const H = SIZES.hidden;
  const u = (n: number, scale = 0.5) => Float32Array.from({ length: n }, () => rng.range(-scale, scale));
  const layers: OnnxRecurrentLayer[] = [];
  for (let k = 0; k < SIZES.layers; k++) {
    const inputSize = k === 0 ? SIZES.input : SIZES.dirs * H;
    layers.push({
      cell: c.cell,
      inputSize,
      hiddenSize: H,
      dirs: SIZES.dirs,
      W: u(SIZES.dirs * G * H * inputSize),
      R: u(SIZES.dirs * G * H * H),
      B: u(SIZES.dirs * 2 * G * H, 0.2),
      ...(c.cell === 'GRU' ? { linearBeforeReset: c.linearBeforeReset ?? 0 } : {}),
      ...(c.activations ? { activations: c.activations } : {}),
    });
  }
  return {
    name: `placement_${c.id.replace(/-/g, '_')}`,
    inputSize: SIZES.input,
    layers,
    head: { weight: u(SIZES.output * SIZES.dirs * H), bias: u(SIZES.output, 0.1), outputSize: SIZES.output, transB: true, softmax: false },
    reads: 'final-state',
    docString: `gpu-placement: ${c.label}`,
    metadata: {},
  };
}

/** Where one kind of node ran: 'GPU', 'CPU', 'mixed', or '—' when the graph has none. */
export type Where = 'GPU' | 'CPU' | 'mixed' | '—';

export interface PlacementResult {
  backend: BackendName;
  case: string;
  form: Form;
  /** The form the exporter built (auto resolved), from the model's metadata. */
  built?: string;
  /** The fused recurrent node(s) (GRU/LSTM/RNN). */
  recurrent?: Where;
  /** The compute ops (MatMul, Gemm, their fused forms) inside a Scan or Loop body: the scan form's steps. */
  loopBody?: Where;
  /** The other compute ops: the head's Gemm, and projections hoisted out of a loop. */
  other?: Where;
  /** acceleratorCheck's verdict: undefined when every compute op ran on the GPU. */
  partial?: string;
  /** Every op type (compute or not) that ran off the GPU, with counts. */
  offGpu?: Record<string, number>;
  /** max |output − onnxruntime-node CPU| over both batches. */
  maxAbsVsCpu?: number;
  /** Every element within the backend's default tolerance (packages/verify/tolerances.json) of the CPU EP's. */
  matchesCpu?: boolean;
  error?: string;
}

export function where(placements: readonly Placement[], isGpu: (ep: string) => boolean, pick: (p: Placement) => boolean): Where {
  const ps = placements.filter(pick);
  if (ps.length === 0) return '—';
  const gpu = ps.filter((p) => isGpu(p.ep)).length;
  return gpu === ps.length ? 'GPU' : gpu === 0 ? 'CPU' : 'mixed';
}

const RECURRENT_OPS = ['GRU', 'LSTM', 'RNN'];

/** A Scan's or Loop's body is their attribute `body` (an If's are then_branch/else_branch), at any depth. */
export const inLoopBody = (p: Placement): boolean => p.subgraph !== undefined && /(^|\/)[^/]*\.body(\/|$)/.test(p.subgraph);

/** Placements of both runs, each node once (a later run adds the nodes of a branch the first did not take). */
function union(a: readonly Placement[], b: readonly Placement[]): Placement[] {
  const seen = new Map<string, Placement>();
  for (const p of [...a, ...b]) if (!seen.has(`${p.subgraph ?? ''}/${p.node}/${p.ep}`)) seen.set(`${p.subgraph ?? ''}/${p.node}/${p.ep}`, p);
  return [...seen.values()];
}

/** The result of one model on one backend, from its placements and outputs. */
export function summarise(backend: BackendName, caseId: string, form: Form, placements: readonly Placement[], built: string | undefined, maxAbsVsCpu: number, matchesCpu = true): PlacementResult {
  const accel = ACCELERATED[backend];
  if (!accel) throw new Error(`${backend} has no accelerator to check`);
  const check = acceleratorCheck(backend, placements)!;
  const compute = (p: Placement) => p.opType === '*' || COMPUTE_OPS.includes(p.opType);
  return {
    backend,
    case: caseId,
    form,
    ...(built ? { built } : {}),
    recurrent: where(placements, accel.isTarget, (p) => RECURRENT_OPS.includes(p.opType) || p.opType === '*'),
    loopBody: where(placements, accel.isTarget, (p) => inLoopBody(p) && compute(p) && !RECURRENT_OPS.includes(p.opType)),
    other: where(placements, accel.isTarget, (p) => !inLoopBody(p) && compute(p) && p.opType !== '*' && !RECURRENT_OPS.includes(p.opType)),
    ...(check.partial ? { partial: check.partial } : {}),
    offGpu: check.fallbackByOpType,
    maxAbsVsCpu,
    matchesCpu,
  };
}

function builtForm(bytes: Uint8Array): string | undefined {
  const m = onnx.ModelProto.decode(bytes);
  return m.metadataProps?.find((p) => p.key === 'gru_onnx.form')?.value ?? undefined;
}

/** Every element within atol + rtol·|expected|. */
export function within(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }): boolean {
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < actual.length; i++) if (!(Math.abs(actual[i]! - expected[i]!) <= tol.atol + tol.rtol * Math.abs(expected[i]!))) return false;
  return true;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export interface PlacementRun {
  date: string;
  /** Per backend: versions and settings from its probe (the WebGPU adapter among them), or why it is unavailable. */
  backends: Record<string, { versions?: Record<string, string>; settings?: Record<string, string | number | boolean>; unavailable?: string }>;
  results: PlacementResult[];
}

export interface PlacementOptions {
  backends: BackendName[];
  cases: readonly CellCase[];
  forms: readonly Form[];
  timeoutMs: number;
  log: (line: string) => void;
}

export async function runPlacement(o: PlacementOptions): Promise<PlacementRun> {
  const rng = new Rng(7);
  const feeds = BATCHES.map((batch) => ({ x: { dims: [batch, SIZES.seq, SIZES.input], data: Float32Array.from(rng.normals(batch * SIZES.seq * SIZES.input)) } }));
  const cpu = createRunner('ort-cpu', { timeoutMs: o.timeoutMs });
  const run: PlacementRun = { date: new Date().toISOString(), backends: {}, results: [] };
  try {
    for (const backend of o.backends) {
      const target = GPU_BACKENDS[backend];
      if (!target) throw new Error(`${backend} is not a GPU backend (choose from ${Object.keys(GPU_BACKENDS).join(', ')})`);
      const runner: Runner = createRunner(backend, { timeoutMs: o.timeoutMs, webgpuAdapter: 'software' });
      const tol = defaultTolerances()[backend];
      try {
        const probe = await runner.probe();
        if (!probe.available) {
          run.backends[backend] = { unavailable: probe.reason };
          o.log(`${backend}: unavailable: ${probe.reason}`);
          continue;
        }
        run.backends[backend] = { versions: probe.versions, settings: probe.settings };
        o.log(`${backend}: ${JSON.stringify(probe.versions)} ${JSON.stringify(probe.settings)}`);
        for (const c of o.cases) {
          for (const form of o.forms) {
            let bytes: Uint8Array;
            try {
              bytes = exportRecurrentChain(chainFor(c), form === 'auto' ? { target } : { form, target });
            } catch (err) {
              const msg = `export: ${err instanceof Error ? err.message : String(err)}`;
              run.results.push({ backend, case: c.id, form, error: msg });
              o.log(`${backend} ${c.id} ${form}: ${msg}`);
              continue;
            }
            const outputNames = (onnx.ModelProto.decode(bytes).graph?.output ?? []).map((v) => v.name ?? '');
            try {
              let placements: Placement[] = [];
              let diff = 0;
              let matches = true;
              for (const f of feeds) {
                const job = { model: bytes, feeds: f, outputNames };
                const [gpu, ref] = [await runner.run(job), await cpu.run(job)];
                placements = union(placements, gpu.placements);
                for (const name of outputNames) {
                  const [a, e] = [gpu.outputs[name]!.data as Float32Array, ref.outputs[name]!.data as Float32Array];
                  diff = Math.max(diff, maxAbs(a, e));
                  matches &&= within(a, e, tol);
                }
              }
              const r = summarise(backend, c.id, form, placements, builtForm(bytes), diff, matches);
              run.results.push(r);
              o.log(`${backend} ${c.id} ${form}: ${cellText(r)}`);
            } catch (err) {
              const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
              run.results.push({ backend, case: c.id, form, error: msg });
              o.log(`${backend} ${c.id} ${form}: error: ${msg}`);
            }
          }
        }
      } finally {
        await runner.close();
      }
    }
  } finally {
    await cpu.close();
  }
  return run;
}

/**
 * The gist of an error for a table cell: onnxruntime's own message without its source path and function signature
 * ("…/webgpu/rnn/lstm.cc:28 std::string …(const std::string &) Unsupported LSTM activation for WebGPU: HardSigmoid").
 */
export function shortError(msg: string): string {
  const ort = /ERROR_MESSAGE: (.*)$/.exec(msg)?.[1];
  const text = ort ? (/^\S+:\d+ .*?\) (\S.*)$/.exec(ort)?.[1] ?? ort) : msg;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** One table cell: where the work ran, in a few words. */
export function cellText(r: PlacementResult): string {
  if (r.error) return `error: ${shortError(r.error)}`;
  const parts: string[] = [];
  if (r.recurrent !== '—') parts.push(`node ${r.recurrent}`);
  if (r.loopBody !== '—') parts.push(`loop ${r.loopBody}`);
  if (r.other !== '—') parts.push(`head etc. ${r.other}`);
  // A wrong answer outranks where it was computed.
  const verdict = r.matchesCpu === false ? '**WRONG**' : r.partial === undefined ? '**GPU**' : 'partial';
  const built = r.form === 'auto' && r.built ? ` (built ${r.built})` : '';
  const exact = r.maxAbsVsCpu === undefined ? '' : `, Δ ${r.maxAbsVsCpu.toExponential(0)}`;
  return `${verdict}${built}: ${parts.join(', ')}${exact}`;
}

/** Markdown: per backend, one row per cell case, one column per form. */
export function formatPlacement(run: PlacementRun, cases: readonly CellCase[], forms: readonly Form[]): string {
  const out: string[] = [];
  for (const [backend, info] of Object.entries(run.backends)) {
    out.push(`### ${backend}`, '');
    if (info.unavailable) {
      out.push(`Unavailable: ${info.unavailable}`, '');
      continue;
    }
    const s = info.settings ?? {};
    const facts = [
      ...Object.entries(info.versions ?? {}).map(([k, v]) => `${k} ${v}`),
      ...(s.webgpuAdapter !== undefined ? [`adapter: ${String(s.webgpuAdapter)}`] : []),
      ...(s.executionProvider !== undefined ? [`executionProviders: ${String(s.executionProvider)}`] : []),
    ];
    out.push(`${run.date.slice(0, 10)}; ${facts.join('; ')}.`, '');
    out.push(`| cell | ${forms.join(' | ')} |`, `| --- | ${forms.map(() => '---').join(' | ')} |`);
    for (const c of cases) {
      const cells = forms.map((f) => {
        const r = run.results.find((x) => x.backend === backend && x.case === c.id && x.form === f);
        return r ? cellText(r) : 'not run';
      });
      out.push(`| ${c.label} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export async function main(argv: string[] = []): Promise<PlacementRun> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      backends: { type: 'string', default: 'browser-webgpu,browser-webgpu-jsep' },
      cases: { type: 'string' },
      forms: { type: 'string', default: FORMS.join(',') },
      md: { type: 'string' },
      json: { type: 'string' },
      timeout: { type: 'string', default: '180' },
      require: { type: 'boolean', default: false },
    },
  });
  const backends = values.backends.split(',') as BackendName[];
  for (const b of backends) if (!GPU_BACKENDS[b]) throw new Error(`--backends: '${b}' is not one of ${Object.keys(GPU_BACKENDS).join(', ')}`);
  const ids = values.cases?.split(',');
  const cases = ids ? ids.map((id) => CELL_CASES.find((c) => c.id === id) ?? fail(`--cases: no case '${id}' (${CELL_CASES.map((c) => c.id).join(', ')})`)) : CELL_CASES;
  const forms = values.forms.split(',') as Form[];
  for (const f of forms) if (!(FORMS as readonly string[]).includes(f)) fail(`--forms: '${f}' is not one of ${FORMS.join(', ')}`);
  const run = await runPlacement({ backends, cases, forms, timeoutMs: Number(values.timeout) * 1000, log: (l) => console.error(l) });
  const md = formatPlacement(run, cases, forms);
  console.log(md);
  if (values.md) writeFileSync(values.md, `${md}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(run, null, 2)}\n`);
  if (values.require && Object.values(run.backends).some((b) => b.unavailable)) process.exitCode = 3;
  else if (run.results.some((r) => r.error)) process.exitCode = 1;
  return run;
}

function fail(msg: string): never {
  console.error(`error: ${msg}`);
  process.exit(2);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
