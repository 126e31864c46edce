import { createHash } from 'node:crypto';
import { referenceForward, UserError } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import { compareOutput, describeComparison, histogramLabels, jsonNumber, REL_FLOOR } from './compare.ts';
import type { ExpectedTensor, Tolerance } from './compare.ts';
import { analyzeSteps } from './divergence.ts';
import { DEFAULT_SEED, DEFAULT_SHAPES, generateCases, readSignature, SATURATING_MAGNITUDE, seedInputs, validateFeeds, validateParams } from './inputs.ts';
import type { GenerateOptions, ModelSignature, Shape, ValueSignature, VerifyCase } from './inputs.ts';
import type { BackendReport, BackendStatus, CaseReport, InputSpecReport, Report, StepRunReport } from './report.ts';
import { REPORT_SCHEMA_VERSION } from './report.ts';
import { exitCodeFor } from './exit-code.ts';
import { acceleratorCheck } from './placement-policy.ts';
import { createRunner as createRegisteredRunner } from './registry.ts';
import type { RunnerOptions } from './registry.ts';
import { BACKENDS } from './runner.ts';
import type { BackendName, Feeds, NamedTensor, Runner } from './runner.ts';
import { DEFAULT_TIMEOUT_MS } from './runners/common.ts';
import { TimeoutError, withTimeout } from './timeout.ts';
import { dtypeOf, float32Data } from './tensor.ts';
import { runtimeVersionNote } from './runtime-versions.ts';
import { randomOps } from './random-ops.ts';
import { applyOverride, defaultTolerances, toleranceFor } from './tolerances.ts';
import type { BackendTolerance, ToleranceTable } from './tolerances.ts';
import { localize } from './localize/localize.ts';
import type { BundleCaseData, BundleData } from './bundle.ts';
import { compareDecision, describeDecision } from './compare/decisions.ts';
import type { Decision } from './compare/decisions.ts';

export interface CaseEvent {
  backend: BackendName;
  caseId: string;
  /** 1-based position among this backend's cases. */
  index: number;
  total: number;
  status: CaseReport['status'];
  maxAbs: number;
}

export interface VerifyOptions {
  /** The ONNX model; may be left out when `bundle` is given (its model.onnx is used). */
  model?: Uint8Array;
  /** The original weights: expected values come from the float64 reference when these are given. */
  params?: SeedParams;
  /** A loaded bundle: its inputs are used, and its stored outputs are the expected values unless `params` is given. */
  bundle?: BundleData;
  /**
   * With neither `params` nor `bundle`: the backend whose outputs are the expected values (default `ort-cpu`).
   * It runs first, on every case; every other backend is compared with it. Needs `cases`.
   */
  baseline?: BackendName;
  /**
   * A stateful run: [output, input] pairs; each case's `stepFeeds` run in order, every backend feeding its own
   * outputs back as the next step's inputs (as a streaming deployment does).
   */
  carry?: [string, string][];
  /** Decisions to count flips of (--decision 'prob>0.5', 'argmax(logits)'); each names a model output. */
  decisions?: Decision[];
  /** How `cases` were made, for the report (generated from the model's signature: each input's dtype, shape, spec). */
  inputSpecs?: InputSpecReport[];
  /** User-supplied inputs, instead of the generated sweep (validated: names, shapes, NaN/Inf). */
  cases?: VerifyCase[];
  /** Runner objects, or names resolved through `createRunner`. Default: every backend. */
  runners?: (Runner | BackendName)[];
  /** Default: the registry's createRunner with `runnerOptions` and `timeoutMs`. */
  createRunner?: (name: BackendName) => Runner | Promise<Runner>;
  /** Threads, TF32, Chromium path… for runners created by name. */
  runnerOptions?: RunnerOptions;
  shapes?: readonly Shape[];
  seed?: number;
  edgeCases?: boolean;
  /** The per-backend table; default packages/verify/tolerances.json. */
  tolerances?: ToleranceTable;
  /** --atol / --rtol: replace that number for every backend. */
  override?: Partial<Tolerance>;
  require?: BackendName[];
  /**
   * Per-run limit in ms (default: the runners' DEFAULT_TIMEOUT_MS), passed to runners created by name. The
   * orchestrator also guards each probe, run and close itself, a little later, for runners that do not stop on
   * their own: a run past that guard is `error` and the backend's remaining cases are skipped.
   */
  timeoutMs?: number;
  onCase?: (e: CaseEvent) => void;
  onBackend?: (b: BackendReport) => void;
  /** Stops the whole verification (SIGINT): the current run is aborted, runners are closed. */
  signal?: AbortSignal;
  /** Where the expected values come from, when the caller computed them (an imported model's float64 reference, handed over as `bundle`). */
  expected?: Report['expected'];
  /** Said before comparing (e.g. weights that are not the ones the model was exported from); in the report too. */
  warnings?: string[];
  /**
   * --localize: for each failing backend that runs the graph, the first node out of tolerance against the
   * baseline (default `ort-cpu`) on the first failing case's inputs; `dir` receives repro-<backend>/.
   */
  localize?: { dir?: string };
  /** Called once the inputs and expected values are ready (bad input has thrown by then), before any backend runs. */
  onStart?: () => void;
}

/** The backend whose outputs are the expected values when a model comes with no weights and no bundle. */
export const DEFAULT_BASELINE: BackendName = 'ort-cpu';
/** Runners that compute from the original weights rather than the graph. */
const NEEDS_PARAMS: readonly BackendName[] = ['reference', 'tfjs'];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
const now = (): number => performance.now();
const ms = (t0: number): number => Math.round((now() - t0) * 1000) / 1000;

/** The reference's outputs under the graph's output names. */
function referenceExpected(params: SeedParams, sig: ModelSignature, c: VerifyCase, names: { x: string; h0?: string }): Record<string, ExpectedTensor> {
  const x = c.feeds[names.x]!;
  const [B, T] = x.dims as [number, number];
  const h0 = names.h0 && c.feeds[names.h0] ? float32Data(c.feeds[names.h0]!, `case ${c.id}: input ${names.h0}`) : undefined;
  const ref = referenceForward(params, float32Data(x, `case ${c.id}: input ${names.x}`), B, T, h0);
  const H = params['gru.W_hz.weight'].shape[0]!;
  const O = params['fc.weight'].shape[0]!;
  const out: Record<string, ExpectedTensor> = {};
  for (const o of sig.outputs) {
    if (o.name === 'logits') out[o.name] = { dims: [B, O], data: ref.logits };
    else if (o.name === 'hidden_states') out[o.name] = { dims: [B, T, H], data: ref.hiddenStates };
    else if (o.name === 'h_n' || o.name === 'h_n_out' || o.name === 'hN') out[o.name] = { dims: [B, H], data: ref.hN };
    else throw new UserError(`model output "${o.name}": the reference has no such output (it has logits, hidden_states, h_n)`);
  }
  return out;
}

/**
 * Runs the model on each backend and compares every output with the expected values. Never throws for a
 * backend's failure (that becomes `error`); throws UserError for bad input, before any backend runs.
 */
export async function verifyModel(options: VerifyOptions): Promise<Report> {
  const t0 = now();
  const model = options.model ?? options.bundle?.model;
  if (!model) throw new UserError('no model: give the model bytes or a bundle');
  const sig = readSignature(model);
  const { params } = options;
  if (params) validateParams(params);

  // Inputs, and the expected values for each, before any backend starts: bad input fails fast with exit 2.
  const { cases, expected, inputSource } = prepareCases(sig, options);
  const baseline = !params && !options.bundle ? (options.baseline ?? DEFAULT_BASELINE) : undefined;
  for (const [out, input] of options.carry ?? []) {
    const o = sig.outputs.find((v) => v.name === out);
    const n = sig.inputs.find((v) => v.name === input);
    if (!o) throw new UserError(`--carry ${out}=${input}: the model has no output ${out} (outputs: ${sig.outputs.map((v) => v.name).join(', ')})`);
    if (!n) throw new UserError(`--carry ${out}=${input}: the model has no input ${input} (inputs: ${sig.inputs.map((v) => v.name).join(', ')})`);
    if (o.elemType !== n.elemType) throw new UserError(`--carry ${out}=${input}: output ${out} is ${o.elemType}, input ${input} is ${n.elemType}`);
    const show = (d: ValueSignature['dims']) => `[${(d ?? []).map((x) => x ?? '?').join(', ')}]`;
    const clash = o.dims && n.dims && (o.dims.length !== n.dims.length || o.dims.some((d, i) => typeof d === 'number' && typeof n.dims![i] === 'number' && d !== n.dims![i]));
    if (clash) throw new UserError(`--carry ${out}=${input}: output ${out} is ${show(o.dims)}, input ${input} is ${show(n.dims)}`);
  }
  // A model that draws random numbers differs between runs by design: said in the report and in failure reasons.
  const random = randomOps(model);
  const decisions = options.decisions ?? [];
  for (const d of decisions) {
    if (!sig.outputs.some((o) => o.name === d.output)) throw new UserError(`--decision '${d.text}': the model has no output ${d.output} (outputs: ${sig.outputs.map((o) => o.name).join(', ')})`);
  }
  const nonTensor = sig.inputs.find((v) => v.kind);
  const unfeedable = nonTensor ? `input ${nonTensor.name} is ${nonTensor.kind === 'optional' ? 'an' : 'a'} ${nonTensor.kind} value; onnxruntime's JavaScript API (onnxruntime-node and -web) takes tensors only` : undefined;
  // Once the inputs and options are known good, before anything runs.
  options.onStart?.();

  const warnings = [...(options.warnings ?? []), ...(options.cases ? [] : (options.bundle?.notes ?? []))];
  const table = applyOverride(options.tolerances ?? defaultTolerances(), options.override);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const outputNames = sig.outputs.map((o) => o.name);
  let requested = options.runners ?? [...BACKENDS];
  if (baseline) {
    // The baseline runs first (its outputs are what the others are compared with), and once.
    const given = requested.find((r) => (typeof r === 'string' ? r : r.name) === baseline);
    requested = [given ?? baseline, ...requested.filter((r) => r !== given)];
  }
  const backends: BackendReport[] = [];
  /** Why the baseline has no outputs for a case (it failed there, or could not run at all). */
  const noExpected = new Map<string, string>();
  /** With --localize, runners stay open until localization is done. */
  const open = new Map<BackendName, Runner>();

  const runBackend = async (spec: Runner | BackendName, b: BackendReport): Promise<void> => {
    const name = b.name;
    const bt0 = now();
    let runner: Runner | undefined;
    try {
      if (options.signal?.aborted) throw new Error('interrupted');
      if (NEEDS_PARAMS.includes(name) && !params && (typeof spec === 'string' || !spec.ownWeights)) {
        b.status = 'unavailable';
        b.reason = `${name} computes from the original weights, and none were given (a bundle holds only the graph)`;
        b.enable = 'pass --weights with the checkpoint the model was exported from';
        return;
      }
      if (typeof spec === 'string') {
        runner = options.createRunner ? await options.createRunner(spec) : createRegisteredRunner(spec, { ...options.runnerOptions, timeoutMs });
      } else {
        runner = spec;
      }
      const r = runner;
      const pt0 = now();
      const probe = await withTimeout('probe', timeoutMs, options.signal, () => r.probe());
      b.timing.probeMs = ms(pt0);
      if (!probe.available) {
        b.status = 'unavailable';
        b.reason = probe.reason;
        b.enable = probe.enable;
        return;
      }
      b.versions = { ...probe.versions };
      b.settings = { ...probe.settings };
      await runCases(r, b, cases, expected, { model, params, outputNames, timeoutMs, signal: options.signal, onCase: options.onCase, isBaseline: name === baseline, noExpected, expectedName: baseline ? `${baseline}'s` : 'expected', unfeedable, decisions, carry: options.carry ?? [] });
    } catch (err) {
      if (err instanceof UserError) throw err;
      b.status = 'error';
      b.reason = message(err);
    } finally {
      // Localization needs the failing backends and the baseline; every other runner (a browser…) closes now.
      if (runner && options.localize && (hasFailingCase(b) || name === (baseline ?? DEFAULT_BASELINE))) {
        open.set(name, runner);
      } else if (runner) {
        const r = runner;
        try {
          await withTimeout('close', timeoutMs, undefined, () => r.close());
        } catch (err) {
          // A runner that cannot shut down is a failure of that backend, reported, not thrown.
          if (b.status !== 'error') b.reason = `close failed: ${message(err)}`;
          b.status = 'error';
        }
      }
      b.timing.totalMs = ms(bt0);
      if (name === baseline && b.status !== 'baseline') {
        for (const c of cases) if (!expected.has(c.id)) noExpected.set(c.id, `${baseline} (the baseline) ${b.status === 'unavailable' ? 'is unavailable' : 'failed'}${b.reason ? `: ${b.reason}` : ''}`);
      }
      options.onBackend?.(b);
    }
  };

  // Backends of one lane run one after another, the lanes at once: each browser backend in a Chromium of its own,
  // beside the in-process and onnxruntime-child ones, so every core has work, and a Chromium that hangs or crashes
  // takes only its own backend with it. (Demo model, every backend, 2 cores at load 5–6, four interleaved pairs:
  // 18.5–20.1 s this way against 20.7–22.5 s with one Chromium running the three in turn, at the same CPU time.)
  const lanes = new Map<string, [Runner | BackendName, BackendReport][]>();
  for (const spec of requested) {
    const name = typeof spec === 'string' ? spec : spec.name;
    const b: BackendReport = {
      name,
      status: 'pass',
      // Placed here so the JSON reads name, status, reason; JSON.stringify leaves it out while undefined.
      reason: undefined,
      enable: undefined,
      versions: {},
      settings: {},
      tolerance: table[name],
      placements: [],
      fallbackNodes: [],
      maxAbs: 0,
      cases: [],
      timing: { probeMs: 0, totalMs: 0 },
    };
    backends.push(b);
    // The baseline's outputs are the others' expected values: it runs alone, before the lanes start.
    const lane = name === baseline ? 'baseline' : name.startsWith('browser-') ? name : 'main';
    lanes.set(lane, [...(lanes.get(lane) ?? []), [spec, b]]);
  }
  for (const [spec, b] of lanes.get('baseline') ?? []) await runBackend(spec, b);
  lanes.delete('baseline');
  // The runners that compute in this process (reference, tfjs) hold the event loop that drives the browser lanes:
  // loading tfjs alone stalls it for seconds, which Chromium's start and browser-wasm's short cases would wait
  // out (demo model, every backend: 11.7 s of stalls over 100 ms, 4.8 s with this order). With a browser lane they
  // run after the onnxruntime ones (child processes), when the browser runs long WebGPU cases that need no
  // attention from here. The report keeps the order asked.
  const main = lanes.get('main');
  if (main && [...lanes.keys()].some((l) => l.startsWith('browser-'))) lanes.set('main', [...main.filter(([, b]) => !NEEDS_PARAMS.includes(b.name)), ...main.filter(([, b]) => NEEDS_PARAMS.includes(b.name))]);
  // Settled, not all: a UserError in one lane is thrown only once the other lanes have closed their runners.
  const settled = await Promise.allSettled(
    [...lanes.values()].map(async (lane) => {
      for (const [spec, b] of lane) await runBackend(spec, b);
    }),
  );
  const thrown = settled.find((x) => x.status === 'rejected');
  // Localization runs before the runners close: a failing browser backend's runner still has its page open.
  try {
    if (options.localize && !thrown) {
      await localizeFailures(backends, open, cases, expected, { model, params, timeoutMs, signal: options.signal, baseline: baseline ?? DEFAULT_BASELINE, createRunner: (n) => (options.createRunner ? options.createRunner(n) : createRegisteredRunner(n, { ...options.runnerOptions, timeoutMs })), dir: options.localize.dir, carry: options.carry ?? [] });
    }
  } finally {
    for (const r of open.values()) await withTimeout('close', timeoutMs, undefined, () => r.close()).catch(() => undefined);
  }
  if (thrown) throw thrown.reason;

  const require = options.require ?? [];
  const counts: Record<BackendStatus, number> = { pass: 0, fail: 0, partial: 0, unavailable: 0, error: 0, baseline: 0 };
  for (const b of backends) counts[b.status]++;
  const verdict = exitCodeFor(backends, require, baseline);
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    generatedAt: new Date().toISOString(),
    tool: { name: 'gru-onnx', version: '0.1.0' },
    model: { sha256: createHash('sha256').update(model).digest('hex'), bytes: model.byteLength, inputs: sig.inputs, outputs: sig.outputs, ...(random.length > 0 ? { randomOps: random } : {}) },
    expected:
      options.expected ??
      (params
        ? { source: 'reference', description: 'the float64 TypeScript reference of the original weights' }
        : baseline
          ? { source: 'baseline', backend: baseline, description: `${baseline}'s outputs (the baseline backend, run on the same inputs)` }
          : { source: 'bundle', description: "the bundle's stored outputs (output_K.pb)" }),
    ...(warnings.length > 0 ? { warnings } : {}),
    input: {
      source: inputSource,
      seed: inputSource === 'generated' || inputSource === 'signature' ? (options.seed ?? DEFAULT_SEED) : null,
      shapes: inputSource === 'generated' ? [...(options.shapes ?? DEFAULT_SHAPES)] : [],
      saturatingMagnitude: inputSource === 'generated' && options.edgeCases !== false ? SATURATING_MAGNITUDE : null,
      ...(options.inputSpecs ? { specs: options.inputSpecs } : {}),
    },
    comparison: {
      rule: 'an element passes when |actual − expected| ≤ atol + rtol·|expected|; an output passes when every element does and no NaN/Inf differs',
      relativeError: `informational only: |actual − expected| / max(|expected|, ${REL_FLOOR})`,
      relFloor: REL_FLOOR,
      nonFinite: 'NaN vs NaN and equal infinities at the same position agree; any other pair with a NaN or Inf is a mismatch',
      histogramBins: histogramLabels(),
    },
    environment: (() => {
      const note = runtimeVersionNote(backends.map((b) => b.versions));
      return { node: process.version, platform: process.platform, arch: process.arch, ...(note ? { onnxruntimeVersions: note } : {}) };
    })(),
    require: [...require],
    cases: cases.map((c) => ({
      id: c.id,
      kind: c.kind,
      ...(c.batch !== undefined ? { batch: c.batch } : {}),
      ...(c.seq !== undefined ? { seq: c.seq } : {}),
      inputs: Object.entries(c.feeds).map(([n, t]) => ({ name: n, dims: [...t.dims] })),
    })),
    backends,
    summary: { status: verdict.code === 0 ? 'pass' : 'fail', exitCode: verdict.code, message: verdict.message, counts },
    timing: { totalMs: ms(t0) },
  };
  return report;
}

/** The cases to run and the expected outputs of each, by case id; every input validated. */
function prepareCases(
  sig: ModelSignature,
  options: VerifyOptions,
): { cases: VerifyCase[]; expected: Map<string, Record<string, ExpectedTensor>>; inputSource: Report['input']['source'] } {
  const { params, bundle } = options;
  let cases: VerifyCase[];
  let inputSource: Report['input']['source'];
  const expected = new Map<string, Record<string, ExpectedTensor>>();
  if (options.cases) {
    cases = options.cases;
    inputSource = options.inputSpecs ? 'signature' : 'user';
  } else if (bundle) {
    cases = bundle.cases.map((c) => ({ id: c.name, kind: 'bundle', feeds: c.inputs }));
    inputSource = 'bundle';
  } else {
    if (!params) throw new UserError('no inputs: give the original weights, a bundle, or cases (inputs generated from the model signature)');
    const H = params['gru.W_hz.weight'].shape[0];
    const I = params['gru.W_xz.weight'].shape[1];
    const gen: GenerateOptions = { shapes: options.shapes ?? DEFAULT_SHAPES, seed: options.seed ?? DEFAULT_SEED };
    if (options.edgeCases !== undefined) gen.edgeCases = options.edgeCases;
    cases = generateCases(sig, { ...(I !== undefined ? { inputSize: I } : {}), ...(H !== undefined ? { hiddenSize: H } : {}) }, gen);
    inputSource = 'generated';
  }
  if (cases.length === 0) throw new UserError('no input cases to run');
  if (new Set(cases.map((c) => c.id)).size !== cases.length) throw new UserError('two input cases share an id');
  for (const c of cases) {
    validateFeeds(c.feeds, sig, `case ${c.id}`, !params);
    // Later steps take their carried inputs from the step before: checked here with step 0's in their place.
    c.stepFeeds?.forEach((f, t) => validateFeeds({ ...c.feeds, ...f }, sig, `case ${c.id}, step ${t}`, !params));
  }
  if (params) {
    const names = seedInputs(sig, {});
    for (const c of cases) expected.set(c.id, referenceExpected(params, sig, c, names));
  } else if (bundle) {
    for (const [i, c] of bundle.cases.entries()) {
      for (const o of sig.outputs) if (!o.kind && !c.outputs[o.name]) throw new UserError(`bundle ${c.name}: no stored output for "${o.name}"`);
      expected.set(cases[i]!.id, c.outputs);
    }
  }
  // Otherwise the baseline backend's outputs become the expected values as it runs.
  return { cases, expected, inputSource };
}

/**
 * The sweep's inputs with the reference's outputs, ready for saveBundle (`--save-bundle`): the same cases, seed
 * and expected values verifyModel uses for these options.
 */
export function referenceBundleCases(model: Uint8Array, params: SeedParams, options: Pick<VerifyOptions, 'shapes' | 'seed' | 'edgeCases' | 'cases'> = {}): BundleCaseData[] {
  validateParams(params);
  const { cases, expected } = prepareCases(readSignature(model), { ...options, params });
  return cases.map((c) => ({ inputs: c.feeds, outputs: expected.get(c.id)! }));
}

interface RunContext {
  model: Uint8Array;
  params: SeedParams | undefined;
  outputNames: string[];
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onCase: ((e: CaseEvent) => void) | undefined;
  /** This runner is the baseline: its outputs become `expected` instead of being compared. */
  isBaseline: boolean;
  noExpected: Map<string, string>;
  /** How messages name the expected values: "expected", or "ort-cpu's" with a baseline. */
  expectedName: string;
  /** Why no run can be fed (a sequence or optional input), or undefined. */
  unfeedable: string | undefined;
  decisions: Decision[];
  /** [output, input] pairs of a stateful run: each step's output becomes the next step's input. */
  carry: [string, string][];
}

async function runCases(
  runner: Runner,
  b: BackendReport,
  cases: VerifyCase[],
  expected: Map<string, Record<string, ExpectedTensor>>,
  ctx: RunContext,
): Promise<void> {
  const seen = new Set<string>();
  let stuck: string | undefined;
  for (const [i, c] of cases.entries()) {
    const cr: CaseReport = { id: c.id, status: 'pass', outputs: [], timing: { runMs: 0 } };
    b.cases.push(cr);
    const missing = ctx.isBaseline ? undefined : ctx.noExpected.get(c.id);
    if (stuck !== undefined) {
      // A backend that hung once would likely hang again: one timeout per backend, not one per case.
      cr.status = 'skipped';
      cr.error = `not run: ${stuck}`;
    } else if (missing !== undefined) {
      cr.status = 'skipped';
      cr.error = `not run: no expected values, ${missing}`;
    } else {
      const rt0 = now();
      try {
        if (ctx.unfeedable) throw new Error(ctx.unfeedable);
        // A stateful case runs its steps in order, each fed this backend's own carried outputs of the step before.
        const steps = c.stepFeeds ?? [c.feeds];
        const stateful = c.stepFeeds !== undefined;
        const run: StepRunReport | undefined = stateful ? { steps: steps.length, carry: ctx.carry.map(([o, n]) => `${o}=${n}`), perStepMaxAbs: [], firstOutOfTolerance: null } : undefined;
        let carried: Feeds = {};
        for (const [t, stepFeeds] of steps.entries()) {
          // Without carried values the case's own feeds object goes through (callers may key results by it).
          const feeds = Object.keys(carried).length > 0 ? { ...stepFeeds, ...carried } : stepFeeds;
          const job = { model: ctx.model, feeds, outputNames: ctx.outputNames, ...(ctx.params ? { params: ctx.params } : {}) };
          const result = await withTimeout('run', ctx.timeoutMs, ctx.signal, (signal) => runner.run(job, signal));
          if (result.sessionMs !== undefined) cr.timing.sessionMs = (cr.timing.sessionMs ?? 0) + result.sessionMs;
          for (const [k, v] of Object.entries(result.settings)) b.settings[k] = v;
          for (const p of result.placements) {
            const key = `${p.node}\u0000${p.opType}\u0000${p.ep}`;
            if (!seen.has(key)) {
              seen.add(key);
              b.placements.push(p);
            }
          }
          carried = {};
          for (const [out, input] of ctx.carry) {
            const v = result.outputs[out];
            if (!v) throw new Error(`step ${t}: output ${out} (carried to ${input}) missing from the results`);
            carried[input] = v;
          }
          const key = stateful ? `${c.id}#${t}` : c.id;
          if (ctx.isBaseline) {
            const missingOutput = ctx.outputNames.find((n) => !result.outputs[n]);
            if (missingOutput) throw new Error(`output ${missingOutput} missing from the baseline's results`);
            expected.set(key, result.outputs);
            continue;
          }
          const step: CaseReport = stateful ? { id: c.id, status: 'pass', outputs: [], timing: { runMs: 0 } } : cr;
          compareRun(step, b, result.outputs, expected.get(key)!, ctx);
          if (run) {
            run.perStepMaxAbs.push(jsonNumber(step.outputs.some((o) => o.nonFiniteMismatches > 0) ? Infinity : Math.max(0, ...step.outputs.map((o) => o.maxAbs))));
            const failing = step.status === 'fail' && run.firstOutOfTolerance === null;
            // The report shows the first step out of tolerance, or else the last step.
            if (failing || (run.firstOutOfTolerance === null && t === steps.length - 1)) {
              cr.status = step.status;
              cr.outputs = step.outputs;
              if (step.decisions) cr.decisions = step.decisions;
            }
            if (failing) {
              const o = step.outputs.find((x) => x.status === 'fail');
              run.firstOutOfTolerance = { step: t, ...(o ? { output: o.output } : {}), ...(o?.firstFailure ? { first: o.firstFailure } : {}) };
            }
          }
        }
        cr.timing.runMs = ms(rt0);
        if (run) cr.stepRun = run;
        if (ctx.isBaseline) {
          ctx.onCase?.({ backend: b.name, caseId: c.id, index: i + 1, total: cases.length, status: cr.status, maxAbs: 0 });
          continue;
        }
      } catch (err) {
        cr.timing.runMs = ms(rt0);
        cr.status = 'error';
        cr.error = message(err);
        if (err instanceof TimeoutError || ctx.signal?.aborted) stuck = cr.error;
      }
    }
    ctx.onCase?.({ backend: b.name, caseId: c.id, index: i + 1, total: cases.length, status: cr.status, maxAbs: Math.max(0, ...cr.outputs.map((o) => o.maxAbs)) });
  }
  finishBackend(b, ctx.isBaseline, ctx.expectedName);
}

interface LocalizeContext {
  model: Uint8Array;
  params: SeedParams | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  baseline: BackendName;
  createRunner: (name: BackendName) => Runner | Promise<Runner>;
  dir: string | undefined;
  carry: [string, string][];
}

const hasFailingCase = (b: BackendReport): boolean => b.cases.some((c) => c.status === 'fail');

/** --localize: each failing graph backend's first node out of tolerance, on its first failing case (and step). */
async function localizeFailures(backends: BackendReport[], open: Map<BackendName, Runner>, cases: VerifyCase[], expected: Map<string, Record<string, ExpectedTensor>>, ctx: LocalizeContext): Promise<void> {
  for (const b of backends) {
    const target = open.get(b.name);
    // A backend that errs on one case (an empty batch, say) and fails on others is localized on its first failure.
    if (!hasFailingCase(b) || !target) continue;
    const cr = b.cases.find((c) => c.status === 'fail');
    const c = cases.find((x) => x.id === cr?.id);
    if (!cr || !c) continue;
    const skip = (why: string) => {
      b.localization = { result: 'error', message: `not localized: ${why}`, baseline: ctx.baseline, case: c.id, instrumentedRuns: 0 };
    };
    if (NEEDS_PARAMS.includes(b.name)) { skip(`${b.name} does not run the graph`); continue; }
    if (b.name === ctx.baseline) { skip(`${b.name} is the backend intermediate values are compared with (choose another with --baseline)`); continue; }
    const baseReport = backends.find((x) => x.name === ctx.baseline);
    if (baseReport && (baseReport.status === 'fail' || baseReport.status === 'error')) { skip(`${ctx.baseline}, whose intermediate values are the yardstick, itself ${baseReport.status === 'fail' ? 'fails' : 'errs'} against the expected values`); continue; }
    const step = cr.stepRun?.firstOutOfTolerance?.step;
    let feeds = c.feeds;
    if (step !== undefined && c.stepFeeds) {
      // The failing step, fed the baseline's carried values: each node is judged on the same inputs.
      feeds = { ...c.feeds, ...c.stepFeeds[step] };
      const before = step > 0 ? expected.get(`${c.id}#${step - 1}`) : undefined;
      for (const [out, input] of ctx.carry) if (before?.[out]) feeds[input] = before[out] as NamedTensor;
    }
    try {
      let base = open.get(ctx.baseline);
      if (!base) {
        base = await ctx.createRunner(ctx.baseline);
        open.set(ctx.baseline, base);
      }
      const baseRunner = base;
      b.localization = await localize({
        model: ctx.model,
        feeds,
        caseId: c.id,
        ...(step !== undefined ? { step } : {}),
        baseline: baseRunner,
        target,
        tolerance: b.tolerance as BackendTolerance,
        ...(ctx.dir !== undefined ? { reportDir: ctx.dir } : {}),
        run: async (r, model, f, outputNames) => withTimeout('run', ctx.timeoutMs, ctx.signal, (signal) => r.run({ model, feeds: f, outputNames, ...(ctx.params ? { params: ctx.params } : {}) }, signal)),
      });
    } catch (err) {
      // Surgery or an instrumented run that fails is this localization's error, never the whole command's.
      skip(message(err));
    }
  }
}

/** Compares one run's outputs (and decisions) with the expected values into `cr`; the backend's max abs grows with it. */
function compareRun(cr: CaseReport, b: BackendReport, outputs: Record<string, NamedTensor>, exp: Record<string, ExpectedTensor>, ctx: RunContext): void {
  for (const name of ctx.outputNames) {
    const actual = outputs[name];
    const tol = toleranceFor(b.tolerance, actual ? dtypeOf(actual) : 'float32');
    const cmp = compareOutput(name, actual, exp[name]!, tol);
    cr.outputs.push(cmp);
    if (cmp.status === 'fail') cr.status = 'fail';
    if (cmp.maxAbs > b.maxAbs) b.maxAbs = cmp.maxAbs;
    for (const d of ctx.decisions.filter((x) => x.output === name)) {
      const dr = compareDecision(d, actual, exp[name]!, tol);
      if (!dr) continue;
      (cr.decisions ??= []).push(dr);
      // A flip fails the case unless the expected value sat within tolerance of the threshold.
      if (dr.flips > dr.borderline) cr.status = 'fail';
    }
    if (name === 'hidden_states') {
      const steps = analyzeSteps(actual, exp[name]!, b.tolerance);
      if (steps) cr.steps = steps;
    }
  }
}

/** Backend status from its cases: error, then fail, then (accelerated backends only) partial, then pass. */
function finishBackend(b: BackendReport, isBaseline = false, expectedName = 'expected'): void {
  const errored = b.cases.find((c) => c.status === 'error');
  const failed = b.cases.find((c) => c.status === 'fail');
  if (errored) {
    b.status = 'error';
    b.reason = `${errored.id}: ${errored.error ?? 'error'}`;
    return;
  }
  if (failed) {
    b.status = 'fail';
    const first = failed.outputs.find((o) => o.status === 'fail');
    const flipped = failed.decisions?.find((d) => d.flips > d.borderline);
    const div = failed.steps?.firstDivergence;
    const where = div ? `; hidden_states first leaves tolerance at batch ${div.batch}, step ${div.step}, unit ${div.unit}: got ${div.actual}, expected ${div.expected}` : '';
    b.reason = `${b.cases.filter((c) => c.status === 'fail').length}/${b.cases.length} cases fail; ${failed.id}: ${first ? describeComparison(first, expectedName) : 'fail'}${flipped ? `; ${describeDecision(flipped, expectedName)}` : ''}${where}`;
    return;
  }
  if (isBaseline) {
    b.status = 'baseline';
    return;
  }
  const accel = acceleratorCheck(b.name, b.placements);
  if (accel) {
    b.fallbackNodes = accel.fallbackNodes;
    if (Object.keys(accel.fallbackByOpType).length > 0) b.fallbackByOpType = accel.fallbackByOpType;
    if (accel.partial !== undefined) {
      b.status = 'partial';
      for (const c of b.cases) if (c.status === 'pass') c.status = 'partial';
      b.reason = accel.partial;
      return;
    }
  }
  b.status = 'pass';
}
