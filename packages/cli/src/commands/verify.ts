import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SUMMARY } from './summary.ts';
import { detectSourceKind, isPytorchHead, isPytorchKind, pytorchCellOf, type PytorchNonlinearity, LIMITS, readFileWithin, sha256Hex, sourceSizes, sourceStateSizes, UserError, type PytorchHead, type SeedParams, type SeedSource, type SourceModel } from '@gru-onnx/model';
import { checkModel, decodeModel, summarizeModel } from '@gru-onnx/onnx';
import {
  BACKENDS,
  consoleTable,
  createRunner,
  createSourceReferenceRunner,
  fmtErr,
  generateCases,
  loadBundle,
  readSignature,
  sourceOutputFor,
  sourceOutputs,
  reportToJson,
  saveBundle,
  verifyModel,
  writeReports,
  type BackendName,
  type BundleCaseData,
  type BundleData,
  type Feeds,
  type RunnerOptions,
  DEFAULT_BASELINE,
  DEFAULT_SEED,
  drawFeeds,
  parseDecision,
  parseDim,
  parseInputSpec,
  planInputs,
  splitAssignment,
  type InputSpec,
  type InputSpecReport,
  type Runner,
  type Tensor,
  type VerifyCase,
} from '@gru-onnx/verify';
import type { Context } from '../context.ts';
import { InterruptedError } from '../exit-codes.ts';
import { requirePath } from '../files.ts';
import { createProgress, log, println, type Progress } from '../io.ts';
import { floatArg, intArg, parseBackends, parseShapes, type SweepShape } from '../parsers.ts';
import { announceForward, headOption, loadWeights, nonlinearityOption, sourceOption, weightsFile, type SourceKind } from './export.ts';

/** Runners that compute from the seed's parameters rather than the graph. */
const SEED_ONLY: readonly BackendName[] = ['reference', 'tfjs'];

export interface VerifyOpts {
  model?: string;
  weights?: string;
  bundle?: string;
  source: SourceKind;
  head?: PytorchHead;
  nonlinearity?: PytorchNonlinearity;
  backends?: BackendName[];
  require?: BackendName[];
  shapes?: SweepShape[];
  atol?: number;
  rtol?: number;
  seed?: number;
  timeout?: number;
  report?: string;
  saveBundle?: string;
  json?: boolean;
  baseline?: BackendName;
  dim?: string[];
  input?: string[];
  cases?: number;
  decision?: string[];
  steps?: number;
  carry?: string[];
  webgpuAdapter?: 'auto' | 'hardware' | 'software';
  localize?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
/** Data sets generated from a model's signature when --cases is not given. */
export const DEFAULT_SIGNATURE_CASES = 3;

export function verifyCommand(ctx: Context): Command {
  return new Command('verify')
    .description(SUMMARY.verify)
    .option('--model <file.onnx>', 'ONNX model to check (default with --bundle: the bundle\'s model.onnx)')
    .option('--weights <file>', 'the original weights: the expected outputs come from the float64 reference of them (also with --bundle)')
    .option('--bundle <dir>', "an ONNX backend-test bundle (model.onnx + test_data_set_N/; with --model, model.onnx may be absent, as in a PyTorch capture): its inputs, and its stored outputs as expected values unless --weights is given")
    .addOption(sourceOption())
    .addOption(headOption())
    .addOption(nonlinearityOption())
    .option('--backends <list>', 'comma-separated backends to try, or all (default: all, less reference and tfjs without the seed\'s weights; unavailable ones are reported, not failed)', parseBackends)
    .option('--require <list>', 'backends that must be available, else exit 3; they are run even if not in --backends', parseBackends)
    .option('--shapes <list>', 'shape sweep as BxT,... (batch x sequence length, each 0 to 65536: 1x0 and 0x3 check an empty x; default 1x1,1x10,1x64,1x257,3x1,...,64x257)', parseShapes)
    .option('--atol <x>', 'absolute tolerance for every backend (default: per backend, packages/verify/tolerances.json)', floatArg(0, 1))
    .option('--rtol <x>', 'relative tolerance for every backend; an element passes when |a - e| <= atol + rtol * |e|', floatArg(0, 1))
    .option('--seed <n>', 'seed of the generated inputs (recorded in the report)', intArg(0, 0xffffffff))
    .option('--timeout <seconds>', 'per-backend time limit; a backend that exceeds it is reported as error', floatArg(0, 86_400, { exclusiveMin: true }))
    .option('--report <dir>', 'write report.json, report.md and report.html into DIR')
    .option('--save-bundle <dir>', 'write the inputs and expected outputs as an ONNX backend-test bundle')
    .option('--json', 'print the JSON report on stdout instead of the table')
    .option('--baseline <backend>', "without --weights or --bundle: the backend whose outputs the others are compared with (default ort-cpu)", parseBaseline)
    .option('--dim <NAME=N>', 'without --weights or --bundle: the size of a symbolic input dimension (repeatable)', collect, [])
    .option('--input <NAME=SPEC>', 'without --weights or --bundle: one input\'s values (repeatable). SPEC: a number or JSON array (sr=16000); @x.npy or @x.pb; normal(m,s), uniform(a,b), int(a,b), zeros or ones, each with an optional :AxB shape (x=normal(0,0.3):1x576). Default: normal(0,1) for floats, int(0,9) for integers, int(0,1) for bool', collect, [])
    .option('--decision <expr>', "count decisions a backend flips against the expected values: 'OUT>0.5' (also >=, <, <=) per element, or 'argmax(OUT)' per row; a flip fails unless the expected value lies within tolerance of the threshold (repeatable)", collect, [])
    .option('--steps <n>', 'without --weights or --bundle: a stateful run of N steps per input set; each backend feeds its own outputs back (--carry); fresh inputs per step are generated, or read from a file with a leading step axis', intArg(1, 100_000))
    .option('--carry <OUT=IN>', 'with --steps: output OUT of each step becomes input IN of the next (repeatable); IN takes its --input spec at step 0', collect, [])
    .addOption(new Option('--webgpu-adapter <kind>', "browser-webgpu*: the WebGPU adapter Chromium offers: auto (the GPU when there is one, else SwiftShader), hardware (the GPU only, else unavailable), software (SwiftShader); the report records the adapter's vendor, architecture and description, and whether it is software").choices(['auto', 'hardware', 'software']).default('auto'))
    .option('--localize', "for each failing backend: the first node out of tolerance against the baseline (default ort-cpu) on the same inputs, reaching into the If branch taken and Loop/Scan bodies (which iteration), and the step of a --steps run; with --report, repro-<backend>/ there: that node alone as an ONNX backend-test bundle with the baseline's values, re-run on both backends")
    .option('--cases <n>', `without --weights or --bundle: how many input sets to generate, each from (seed, index) (default ${DEFAULT_SIGNATURE_CASES})`, intArg(1, 1000))
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Exit codes: 0 every available backend passes, 1 a mismatch, 2 bad input, 3 a --require'd backend is unavailable.

Examples:
  $ pnpm gru-onnx verify --model any.onnx --dim batch=1 --input sr=16000 --backends ort-cpu,ort-wasm,browser-webgpu
  $ pnpm gru-onnx verify --model any.onnx --input x=@x.npy --baseline ort-wasm --save-bundle out/bundle
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors --backends ort-cpu,ort-wasm --require ort-cpu --shapes 1x10,64x257
  $ pnpm gru-onnx verify --bundle bundle/ --json > report.json
  $ pnpm gru-onnx verify --model model.onnx --bundle captured/      # against PyTorch's own outputs (python/gru_onnx_torch.py capture)
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors --report out/ --save-bundle out/bundle
  $ pnpm gru-onnx verify --model any.onnx --backends ort-cpu,browser-webgpu --localize --report out/   # out/repro-browser-webgpu/`,
    )
    .action(async (opts: VerifyOpts) => {
      ctx.exitCode = await runVerify(ctx, checkVerifyOpts(opts));
    });
}

/** The cross-option rules commander cannot express; each error names the option. */
export function checkVerifyOpts(opts: VerifyOpts): VerifyOpts {
  if (opts.bundle === undefined && opts.model === undefined) throw new UserError('--model FILE.onnx is required (or --bundle DIR)');
  if (opts.weights !== undefined || opts.bundle !== undefined) {
    // These shape the inputs and expected values of a model checked on its own; a bundle or weights fix both.
    const given = ([['--baseline', opts.baseline !== undefined], ['--dim', (opts.dim ?? []).length > 0], ['--input', (opts.input ?? []).length > 0], ['--cases', opts.cases !== undefined], ['--steps', opts.steps !== undefined], ['--carry', (opts.carry ?? []).length > 0]] as const).find(([, on]) => on);
    if (given) throw new UserError(`${given[0]}: only without --weights and --bundle (then the inputs come from the model's signature and the expected values from the baseline backend)`);
  }
  if (opts.nonlinearity !== undefined && opts.weights === undefined) throw new UserError('--nonlinearity: only with --weights (it says how to read an nn.RNN state_dict)');
  if (opts.steps !== undefined && opts.saveBundle !== undefined) throw new UserError('--save-bundle: a stateful run (--steps) has no form in the ONNX bundle layout, which stores independent input sets');
  if ((opts.steps !== undefined) !== ((opts.carry ?? []).length > 0)) throw new UserError(opts.steps !== undefined ? '--steps: give what each step carries to the next with --carry OUT=IN' : '--carry: only with --steps N');
  if (opts.model !== undefined) requirePath('--model', opts.model, 'file');
  if (opts.weights !== undefined) requirePath('--weights', opts.weights, 'any');
  if (opts.bundle !== undefined) requirePath('--bundle', opts.bundle, 'directory');
  return opts;
}

/** Verifies, writes reports and bundle as asked, prints the table (or JSON); returns the exit code (0, 1 or 3). */
export async function runVerify(ctx: Context, opts: VerifyOpts): Promise<number> {
  const { io, signal } = ctx;
  const given = opts.model !== undefined ? readFileWithin(opts.model, LIMITS.onnxFileBytes, 'ONNX model') : undefined;
  if (given) checkStructure(given, opts.model!);
  const loaded = opts.bundle !== undefined ? loadBundle(opts.bundle, given) : undefined;
  const model = given ?? loaded!.model;
  if (!given) checkStructure(model, `${opts.bundle}/model.onnx`);
  const metadata = summarizeModel(model).metadata;
  const source = opts.weights !== undefined ? loadWeights({ weights: opts.weights, source: opts.source, head: headFor(opts, metadata), nonlinearity: nonlinearityFor(opts, metadata) }) : undefined;
  const warnings = source ? weightsWarnings(opts.weights!, metadata) : [];
  // The seed's weights drive the float64 reference (and the reference and tfjs runners); an imported model's
  // own float64 forward gives the expected values of the same inputs, handed to verifyModel as a bundle, and
  // runs as the reference backend.
  const params = source?.kind === 'seed' ? source.params : undefined;
  const imported = source && source.kind !== 'seed' ? source : undefined;
  const bundle = imported ? sourceBundle(model, imported, loaded, opts) : loaded;
  const expected = imported
    ? { source: 'reference' as const, description: `the float64 TypeScript reference of the ${imported.kind === 'tfjs-layers' ? `tfjs-layers weights (${opts.weights})` : `PyTorch nn.${pytorchCellOf(imported.kind)} weights (${opts.weights}, --head ${imported.head}${imported.kind === 'pytorch-rnn' ? `, nonlinearity ${imported.nonlinearity}` : ''})`}` }
    : undefined;
  const require = opts.require ?? [];
  // Without weights, reference and tfjs have nothing to run: leave them out unless named. tfjs runs the seed only.
  const tried = opts.backends ?? (params ? BACKENDS : BACKENDS.filter((b) => !SEED_ONLY.includes(b) || (imported && b === 'reference')));
  // A required backend is always tried, so that "required but unavailable" (exit 3) is decided by its probe.
  const backends = [...tried, ...require.filter((r) => !tried.includes(r))];
  const timeoutMs = opts.timeout !== undefined ? Math.round(opts.timeout * 1000) : undefined;
  const runnerOptions: RunnerOptions = { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(opts.webgpuAdapter ? { webgpuAdapter: opts.webgpuAdapter } : {}) };

  // Neither weights nor a bundle: inputs from the model's signature, expected values from the baseline backend.
  const signature = !source && !bundle ? signatureCases(model, opts) : undefined;
  if (signature) for (const s of signature.specs) log(io, `input ${s.name}: ${s.dtype} [${s.dims.join(', ')}] ${s.spec}`);
  const baseline = signature ? (opts.baseline ?? DEFAULT_BASELINE) : undefined;
  /** The baseline's outputs per input set, kept for --save-bundle. */
  const baselineOutputs = new Map<Feeds, Record<string, Tensor>>();

  let progress: Progress | undefined;
  let casesDone = 0;
  const report = await verifyModel({
    model,
    ...(params ? { params } : {}),
    ...(bundle ? { bundle } : {}),
    ...(signature ? { cases: signature.cases, inputSpecs: signature.specs, baseline: baseline!, carry: signature.carry } : {}),
    decisions: (opts.decision ?? []).map(parseDecision),
    ...(opts.localize ? { localize: opts.report !== undefined ? { dir: opts.report } : {} } : {}),
    runners: backends.map((b) => (b === 'reference' && imported ? createSourceReferenceRunner(imported) : b)),
    createRunner: (name) => {
      const runner = createRunner(name, runnerOptions);
      return name === baseline ? recording(runner, baselineOutputs) : runner;
    },
    ...(expected ? { expected } : {}),
    warnings,
    // Once the input is known to be good (exit 2 is one error line), and before anything is compared.
    onStart: () => {
      for (const w of warnings) log(io, `warning: ${w}`);
      if (source) announceForward(io, source);
    },
    ...(opts.shapes ? { shapes: opts.shapes } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    override: { ...(opts.atol !== undefined ? { atol: opts.atol } : {}), ...(opts.rtol !== undefined ? { rtol: opts.rtol } : {}) },
    require,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    signal,
    // Backends run in two lanes at once, so one bar counts the cases of all of them.
    onCase: (e) => {
      progress ??= createProgress(io, 'verify', e.total * backends.length);
      progress.update(++casesDone, `${e.backend} ${e.caseId}`);
    },
    onBackend: (b) => {
      progress?.clearLine();
      const cases = b.cases.length > 0 ? `, max abs ${fmtErr(b.maxAbs)} over ${b.cases.length} cases` : '';
      // The table below repeats every reason; only with --json (no table) is it printed here.
      log(io, `${b.name}: ${b.status}${cases}${b.reason && opts.json ? ` (${b.reason})` : ''}`);
    },
  });
  progress?.stop();
  // verifyModel turns an abort into per-backend errors and returns; an interrupted run reports nothing.
  if (signal.aborted) throw new InterruptedError();

  if (opts.saveBundle !== undefined) {
    const cases = signature ? signature.cases.map((c) => {
      const outputs = baselineOutputs.get(c.feeds);
      if (!outputs) throw new UserError(`--save-bundle: ${baseline} (the baseline) gave no outputs for input set ${c.id}, so there is nothing to store; bundle not written`);
      return { inputs: c.feeds, outputs };
    }) : await bundleCases(model, params, bundle, opts, runnerOptions);
    saveBundle(opts.saveBundle, model, cases);
    log(io, `bundle: ${opts.saveBundle}`);
  }
  if (opts.report !== undefined) {
    const paths = writeReports(opts.report, report);
    log(io, `report: ${paths.json}, ${paths.markdown}, ${paths.html}`);
  }
  if (opts.json) io.out(reportToJson(report));
  else println(io, consoleTable(report));
  return report.summary.exitCode;
}

/**
 * The head of a PyTorch model: --head, else the one the model was exported with (its metadata). The two must
 * agree: a model exported for one forward checked against another is a mistake, not a question.
 */
function headFor(opts: VerifyOpts, metadata: Record<string, string>): PytorchHead | undefined {
  const recorded = metadata['gru_onnx.head'];
  if (recorded === undefined || !isPytorchHead(recorded)) return opts.head;
  if (opts.head !== undefined && opts.head !== recorded) throw new UserError(`--head ${opts.head}, but ${opts.model ?? 'the model'} was exported with --head ${recorded} (metadata gru_onnx.head)`);
  const kind = opts.source === 'auto' ? detectSourceKind(opts.weights!) : opts.source;
  return isPytorchKind(kind) ? recorded : opts.head;
}

/**
 * An nn.RNN's nonlinearity: --nonlinearity, else the one the model was exported with (metadata
 * gru_onnx.nonlinearity), for weights whose file does not say it. As for --head, the two must agree; the loader
 * checks either against the weights' own record.
 */
function nonlinearityFor(opts: VerifyOpts, metadata: Record<string, string>): PytorchNonlinearity | undefined {
  const recorded = metadata['gru_onnx.nonlinearity'];
  if (recorded !== 'tanh' && recorded !== 'relu') return opts.nonlinearity;
  if (opts.nonlinearity !== undefined && opts.nonlinearity !== recorded) throw new UserError(`--nonlinearity ${opts.nonlinearity}, but ${opts.model ?? 'the model'} was exported with --nonlinearity ${recorded} (metadata gru_onnx.nonlinearity)`);
  return recorded;
}

/** A model whose metadata names other weights than --weights: said before anything is compared. */
function weightsWarnings(weights: string, metadata: Record<string, string>): string[] {
  const recorded = metadata['gru_onnx.weights_sha256'];
  if (recorded === undefined) return [];
  const actual = sha256Hex(readFileSync(weightsFile(weights)));
  if (actual === recorded) return [];
  return [`--weights ${weights} (sha256 ${actual.slice(0, 16)}…) is not the file this model was exported from (metadata gru_onnx.weights_sha256 ${recorded.slice(0, 16)}…); comparing anyway`];
}

/** `--baseline NAME`: a backend that runs the graph (reference and tfjs need the seed's weights). */
function parseBaseline(value: string): BackendName {
  const [name] = parseBackends(value);
  if (name === undefined || value.includes(',')) throw new InvalidArgumentError('one backend, e.g. ort-cpu');
  if (SEED_ONLY.includes(name)) throw new InvalidArgumentError(`${name} computes from the seed's weights, not the graph; choose a backend that runs ONNX (e.g. ort-cpu)`);
  return name;
}

/** Input sets generated from the model's signature with --dim and --input, one per --cases, each seeded by (seed, index). */
function signatureCases(model: Uint8Array, opts: VerifyOpts): { cases: VerifyCase[]; specs: InputSpecReport[]; carry: [string, string][] } {
  const sig = readSignature(model);
  const dims: Record<string, number> = {};
  for (const d of opts.dim ?? []) {
    const [name, n] = parseDim(d);
    if (dims[name] !== undefined) throw new UserError(`--dim ${name}: given twice`);
    dims[name] = n;
  }
  const inputs: Record<string, InputSpec> = {};
  for (const i of opts.input ?? []) {
    const [name, spec] = splitAssignment(i, '--input');
    if (inputs[name]) throw new UserError(`--input ${name}: given twice`);
    inputs[name] = parseInputSpec(spec, `--input ${name}`);
  }
  const carry = (opts.carry ?? []).map((c) => splitAssignment(c, '--carry'));
  const plans = planInputs(sig.inputs, { dims, inputs, ...(opts.steps !== undefined ? { steps: opts.steps } : {}) });
  const seed = opts.seed ?? DEFAULT_SEED;
  const n = opts.cases ?? DEFAULT_SIGNATURE_CASES;
  const carried = new Set(carry.map(([, input]) => input));
  const cases = Array.from({ length: n }, (_, i): VerifyCase => {
    if (opts.steps === undefined) return { id: `set ${i}`, kind: 'signature', feeds: drawFeeds(plans, seed, i) };
    // Step 0 feeds every input; later steps only the fresh ones (the carried ones come from the step before).
    const stepFeeds = Array.from({ length: opts.steps }, (_, t) => {
      const f = drawFeeds(plans, seed, i, t);
      if (t > 0) for (const name of carried) delete f[name];
      return f;
    });
    return { id: `set ${i}`, kind: 'signature', feeds: stepFeeds[0]!, stepFeeds };
  });
  return { cases, specs: plans.map((p) => ({ name: p.name, dtype: p.dtype, dims: p.dims, spec: p.spec })), carry };
}

/** The runner, with each run's outputs kept by the feeds object they answer. */
function recording(runner: Runner, into: Map<Feeds, Record<string, Tensor>>): Runner {
  return {
    name: runner.name,
    probe: () => runner.probe(),
    close: () => runner.close(),
    async run(job, signal) {
      const r = await runner.run(job, signal);
      into.set(job.feeds, r.outputs);
      return r;
    },
  };
}

/** Decodes and runs the structural checker (names defined before use, so no cycles; initializer sizes; GRU shapes). */
function checkStructure(model: Uint8Array, source: string): void {
  const issues = checkModel(decodeModel(model, source));
  if (issues.length > 0) throw new UserError(`${source}: invalid ONNX model: ${issues[0]!.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`);
}

/**
 * Expected values for an imported model (PyTorch nn.GRU/LSTM/RNN, tfjs-layers): its source framework's float64
 * forward (from @gru-onnx/model) on the sweep's inputs (x, and h0/c0 where the graph takes them), or on a given
 * bundle's inputs, for every output the graph has: logits or probabilities, hidden_states, h_n, c_n.
 */
function sourceBundle(model: Uint8Array, source: Exclude<SourceModel, SeedSource>, loaded: BundleData | undefined, opts: VerifyOpts): BundleData {
  const sig = readSignature(model);
  const outputNames = sig.outputs.map((o) => o.name);
  const state = sourceStateSizes(source);
  const inputs: { name: string; feeds: Feeds }[] =
    loaded?.cases.map((c) => ({ name: c.name, feeds: c.inputs })) ??
    generateCases(sig, { inputSize: sourceSizes(source).inputSize, ...(state.hiddenSize !== undefined ? { hiddenSize: state.hiddenSize } : {}), state }, { ...(opts.shapes ? { shapes: opts.shapes } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) }).map((c) => ({ name: c.id, feeds: c.feeds }));
  // Names the outputs up front (one line, exit 2) rather than per case.
  if (outputNames.length > 1) for (const name of outputNames) sourceOutputFor(name, source.kind);
  return {
    model,
    ...(loaded?.notes ? { notes: loaded.notes } : {}),
    cases: inputs.map(({ name, feeds }) => ({ name, inputs: feeds, outputs: sourceOutputs(source, feeds, outputNames, `case ${name}`) })),
  };
}

/**
 * The cases to store in --save-bundle: a loaded bundle's own, or the verified sweep's inputs with the reference
 * runner's outputs as the expected values (float32, as a bundle stores them).
 */
async function bundleCases(model: Uint8Array, params: SeedParams | undefined, bundle: BundleData | undefined, opts: VerifyOpts, runnerOptions: RunnerOptions): Promise<BundleCaseData[]> {
  if (!params) return bundle!.cases.map((c) => ({ inputs: c.inputs, outputs: c.outputs }));
  // With the seed's weights the expected values are the reference's, on the bundle's inputs when one was given.
  if (bundle) return runReference(model, params, bundle.cases.map((c) => c.inputs), runnerOptions);
  const sig = readSignature(model);
  const cases = generateCases(sig, { inputSize: params['gru.W_xz.weight'].shape[1], hiddenSize: params['gru.W_hz.weight'].shape[0] }, {
    ...(opts.shapes ? { shapes: opts.shapes } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  return runReference(model, params, cases.map((c) => c.feeds), runnerOptions);
}

/** The reference runner's outputs for each input set: the expected values, as verify computed them. */
async function runReference(model: Uint8Array, params: SeedParams, inputs: Feeds[], runnerOptions: RunnerOptions): Promise<BundleCaseData[]> {
  const outputNames = readSignature(model).outputs.map((o) => o.name);
  const reference = createRunner('reference', runnerOptions);
  try {
    const out: BundleCaseData[] = [];
    for (const feeds of inputs) out.push({ inputs: feeds, outputs: (await reference.run({ model, params, feeds, outputNames })).outputs });
    return out;
  } finally {
    await reference.close();
  }
}
