/**
 * The seed's recurrence as ONNX nodes, in each form export-seed.ts describes: the fused GRU node, the scan from
 * primitive ops (hoisted or step-projected), auto's If between them, and the empty-x guard.
 */
import type { SeedParams } from '@gru-onnx/model';
import type { Dim } from './builder.ts';
import { attr, makeGraph, makeValueInfo } from './builder.ts';
import type { ExportForm, ExportTarget } from './export-seed.ts';
import { transposeMatrix } from './matrix.ts';
import { ifEmptyX, lessThan, zerosState } from './scope.ts';
import type { Scope } from './scope.ts';
import type { onnx } from './proto.ts';

/**
 * Knobs for measuring alternatives in tools/bench; the defaults are the measured winners. Not part of the
 * package's API: two of them write graphs that abort onnxruntime on an empty x.
 */
export interface ExportTuning {
  /**
   * fused: wrap the GRU node in the empty-x guard (default true). false gives the bare one-node graph that
   * aborts onnxruntime on an empty x: the inference benchmark's "fused node" baseline.
   */
  fusedEmptyGuard?: boolean;
  /** Use Loop instead of Scan at opsets 9+ (Scan measured faster). */
  loop?: boolean;
  /** auto: also send an empty x away from the fused node (default true: onnxruntime's GRU aborts on it). */
  autoEmptyGuard?: boolean;
  /**
   * auto: how the large-batch scan feeds x to the recurrence (see writeScan). Default 'step' for target cpu,
   * where it was measured faster, 'hoisted' (fewer kernels per step) for the others.
   */
  autoProjection?: 'hoisted' | 'step';
}

/** The target opset (ops' signatures and availability change across it) and the measurement knobs. */
class Ops {
  constructor(
    readonly opset: number,
    readonly tuning: ExportTuning = {},
  ) {}
}

function concat(parts: ArrayLike<number>[], sign: number[] = []): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  parts.forEach((p, i) => {
    const s = sign[i] ?? 1;
    for (let j = 0; j < p.length; j++) out[off + j] = s * p[j]!;
    off += p.length;
  });
  return out;
}

export interface Sizes {
  I: number;
  H: number;
  O: number;
}

export interface Want {
  hiddenStates: boolean;
  hN: boolean;
  h0: boolean;
}

/** Names the GRU part produces in the scope it is written into. */
export interface Recurrence {
  /** h_T [batch, hidden]. */
  hT: string;
  /** every h [batch, seq, hidden], when asked for. */
  hs?: string;
}

/**
 * Fused: Transpose x to GRU's layout 0 [seq, batch, input] (the layout attribute only exists from opset 14, and
 * onnxruntime's CPU kernel does not take layout 1), one GRU node, reshape its outputs back.
 */
function writeFused(s: Scope, { p, z, want }: Seed, out: { hT: string; hs: string }, xSeqMajor?: string): Recurrence {
  const { I, H } = z;
  const d = (n: keyof SeedParams) => p[n].data;
  // ONNX gate order z, r, h; the seed's z rows negated (σ(−a) = 1 − σ(a)).
  const W = s.float('gru_W', [1, 3 * H, I], concat([d('gru.W_xz.weight'), d('gru.W_xr.weight'), d('gru.W_xh.weight')], [-1]));
  const R = s.float('gru_R', [1, 3 * H, H], concat([d('gru.W_hz.weight'), d('gru.W_hr.weight'), d('gru.W_hh.weight')], [-1]));
  const B = s.float('gru_B', [1, 6 * H], concat([d('gru.W_xz.bias'), d('gru.W_xr.bias'), d('gru.W_xh.bias'), new Float32Array(3 * H)], [-1]));
  const xT = xSeqMajor ?? s.node('Transpose', ['x'], [`${s.prefix}x_seq_major`], { perm: attr.ints([1, 0, 2]) });
  let initialH = '';
  if (want.h0) {
    initialH = s.node('Reshape', ['h0', s.int64(`${s.prefix}shape_1_b_h`, [3], [1, -1, H])], [`${s.prefix}h0_dirs`]);
  }
  const Y = want.hiddenStates ? `${s.prefix}gru_Y` : '';
  s.node('GRU', [xT, W, R, B, '', initialH], [Y, `${s.prefix}gru_Y_h`], {
    hidden_size: attr.int(H),
    linear_before_reset: attr.int(0),
  });
  const hT = s.node('Reshape', [`${s.prefix}gru_Y_h`, s.int64(`${s.prefix}shape_b_h`, [2], [-1, H])], [out.hT]);
  if (!want.hiddenStates) return { hT };
  // Y [seq, 1, batch, hidden] → [batch, seq, 1, hidden] → [batch, seq, hidden].
  const yB = s.node('Transpose', [Y], [`${s.prefix}gru_Y_batch_major`], { perm: attr.ints([2, 0, 1, 3]) });
  const hs = s.node('Reshape', [yB, s.int64(`${s.prefix}shape_0_0_h`, [3], [0, 0, H])], [out.hs]);
  return { hT, hs };
}

/** Per gate g ∈ {z, r, h}: W_xgᵀ [I, H], b_xg [H], W_hgᵀ [H, H] (transposed so h·Wᵀ is a plain MatMul). */
function scanWeights(s: Scope, p: SeedParams, { I, H }: Sizes) {
  const d = (n: keyof SeedParams) => p[n].data;
  const gate = (g: 'z' | 'r' | 'h') => ({
    Wx: s.float(`scan_W_x${g}_T`, [I, H], transposeMatrix(d(`gru.W_x${g}.weight`), H, I)),
    bx: s.float(`scan_b_x${g}`, [H], d(`gru.W_x${g}.bias`)),
    Wh: s.float(`scan_W_h${g}_T`, [H, H], transposeMatrix(d(`gru.W_h${g}.weight`), H, H)),
  });
  return { z: gate('z'), r: gate('r'), h: gate('h') };
}
type ScanWeights = ReturnType<typeof scanWeights>;

/**
 * The cell from primitive ops, written into a loop body scope; returns h'. The z and r recurrent MatMuls stay
 * separate: fused into one [H, 2H] MatMul they need a Split along the hidden axis, which onnxruntime copies in
 * H-float pieces and which cost more than the saved MatMul (measured: 27 µs per step at batch 1024).
 */
function writeCell(b: Scope, w: ScanWeights, h: string, xz: string, xr: string, xh: string): string {
  const recurrentZ = b.node('MatMul', [h, w.z.Wh], ['h_W_hz']);
  const z = b.node('Sigmoid', [b.node('Add', [xz, recurrentZ], ['z_pre'])], ['z']);
  const recurrentR = b.node('MatMul', [h, w.r.Wh], ['h_W_hr']);
  const r = b.node('Sigmoid', [b.node('Add', [xr, recurrentR], ['r_pre'])], ['r']);
  return writeUpdate(b, w.h.Wh, h, z, r, xh);
}

/** h̃ = tanh(xh + (r ⊙ h) W_hhᵀ), h' = h + z ⊙ (h̃ − h). */
function writeUpdate(b: Scope, WhhT: string, h: string, z: string, r: string, xh: string): string {
  const rh = b.node('Mul', [r, h], ['r_h']);
  const recurrentH = b.node('MatMul', [rh, WhhT], ['r_h_W_hh']);
  const hTilde = b.node('Tanh', [b.node('Add', [xh, recurrentH], ['h_tilde_pre'])], ['h_tilde']);
  const delta = b.node('Sub', [hTilde, h], ['h_tilde_minus_h']);
  const zDelta = b.node('Mul', [z, delta], ['z_delta']);
  return b.node('Add', [h, zDelta], ['h_next']);
}

/**
 * The cell with x projected inside the step: z and r are one Gemm each over [x_t | h] with the stacked weights
 * [W_xgᵀ; W_hgᵀ] [I + H, H] and bias b_xg; h̃ takes x_t W_xhᵀ + b_xh from its own Gemm. 9 kernels per step
 * (Concat, 2 Gemm+Sigmoid, Gemm, Mul, Gemm+Tanh, Sub, Mul, Add).
 */
function writeStepCell(s: Scope, b: Scope, p: SeedParams, { I, H }: Sizes, h: string, x: string): string {
  const d = (n: keyof SeedParams) => p[n].data;
  const stacked = (g: 'z' | 'r') =>
    s.float(`step_W_x${g}_h${g}_T`, [I + H, H], concat([transposeMatrix(d(`gru.W_x${g}.weight`), H, I), transposeMatrix(d(`gru.W_h${g}.weight`), H, H)]));
  const bias = (g: 'z' | 'r' | 'h') => s.float(`step_b_x${g}`, [H], d(`gru.W_x${g}.bias`));
  const xh = b.node('Concat', [x, h], ['x_h'], { axis: attr.int(1) });
  const z = b.node('Sigmoid', [b.node('Gemm', [xh, stacked('z'), bias('z')], ['z_pre'])], ['z']);
  const r = b.node('Sigmoid', [b.node('Gemm', [xh, stacked('r'), bias('r')], ['r_pre'])], ['r']);
  const WxhT = s.float('step_W_xh_T', [I, H], transposeMatrix(d('gru.W_xh.weight'), H, I));
  const xProj = b.node('Gemm', [x, WxhT, bias('h')], ['x_W_xh_b']);
  return writeUpdate(b, s.float('step_W_hh_T', [H, H], transposeMatrix(d('gru.W_hh.weight'), H, H)), h, z, r, xProj);
}

function stateInfo(name: string, dims: Dim[]): onnx.ValueInfoProto {
  return makeValueInfo(name, 'float32', dims);
}

/** How the scan form feeds x to the recurrence. */
type Projection = 'hoisted' | 'step';

/**
 * The recurrence from primitive ops, with h as the loop state.
 * - `hoisted`: x W_xgᵀ + b_xg for all steps at once, before the loop (one Gemm per gate over the seq-major x),
 *   and 7 kernels per step in a Scan over those projections: fewest kernels, fastest for small batches and for
 *   runtimes where each kernel is a launch. Opsets 7–8 (or tuning.loop) use a Loop that gathers step i instead:
 *   Scan-8's batch axis semantics would run the body once per row. Scan cannot slice an empty axis, so this
 *   needs the empty-x guard.
 * - `step`: a Loop over the steps whose body gathers x_t from the batch-major x and projects it (writeStepCell):
 *   at batch 1024 the hoisted [seq, batch, hidden] projections no longer stay in cache, and x's 3-D Transpose is
 *   slow, so this is about 20% faster on onnxruntime CPU (tools/bench/infer.md). A Loop runs zero times at seq 0
 *   and its kernels take batch 0, so its h_T is exact on an empty x without a guard.
 */
function writeScan(s: Scope, { p, z, want, ops }: Seed, out: { hT: string; hs: string }, projection: Projection = 'hoisted', xSeqMajor?: string): Recurrence {
  const { H } = z;
  const h0 = want.h0 ? 'h0' : zerosState(s, H);
  const hsRaw = want.hiddenStates ? `${s.prefix}hs_seq_major` : undefined;
  const scanOut = hsRaw ? [hsRaw] : [];
  const finish = (): Recurrence =>
    hsRaw ? { hT: out.hT, hs: s.node('Transpose', [hsRaw], [out.hs], { perm: attr.ints([1, 0, 2]) }) } : { hT: out.hT };
  const b = s.child('body_');
  const bodyOut = (hNext: string) => {
    const outs = [stateInfo(hNext, ['batch', H])];
    // A body output is listed once: every step's h leaves through an Identity.
    if (hsRaw) outs.push(stateInfo(b.node('Identity', [hNext], ['h_step']), ['batch', H]));
    return outs;
  };
  const body = (inputs: onnx.ValueInfoProto[], hNext: string, leading: onnx.ValueInfoProto[] = []) =>
    makeGraph({ name: 'gru_step', nodes: b.nodes, inputs, outputs: [...leading, ...bodyOut(hNext)], docString: "One step of the seed's GRU cell." });
  const xShape = s.node('Shape', ['x'], [`${s.prefix}x_shape_for_seq`]);
  /** A Loop of seq iterations over the body written so far; `index` is its iteration number. */
  const loopOverSteps = (index: string, hNext: string): Recurrence => {
    const cond = b.node('Identity', ['cond_in'], ['cond_out']);
    const g = body([makeValueInfo(index, 'int64', []), makeValueInfo('cond_in', 'bool', []), stateInfo('h_prev', ['batch', H])], hNext, [makeValueInfo(cond, 'bool', [])]);
    const seq = s.node('Gather', [xShape, s.int64(`${s.prefix}index_1`, [], [1])], [`${s.prefix}seq_len`], { axis: attr.int(0) });
    s.node('Loop', [seq, '', h0], [out.hT, ...scanOut], { body: attr.graph(g) });
    return finish();
  };

  if (projection === 'step') {
    const xt = b.node('Gather', ['x', 't'], ['x_t'], { axis: attr.int(1) });
    return loopOverSteps('t', writeStepCell(s, b, p, z, 'h_prev', xt));
  }

  // Seq-major from the start: x is the narrowest tensor to transpose, and Scan then slices axis 0 without copies.
  const xT = xSeqMajor ?? s.node('Transpose', ['x'], [`${s.prefix}x_seq_major`], { perm: attr.ints([1, 0, 2]) });
  const w = scanWeights(s, p, z);
  const xRows = s.node('Flatten', [xT], [`${s.prefix}x_rows`], { axis: attr.int(2) });
  const seqBatch = s.node('Gather', [xShape, s.int64(`${s.prefix}index_1_0`, [2], [1, 0])], [`${s.prefix}seq_batch`], { axis: attr.int(0) });
  const seqBatchH = s.node('Concat', [seqBatch, s.int64(`${s.prefix}hidden_1d`, [1], [H])], [`${s.prefix}seq_batch_hidden`], { axis: attr.int(0) });
  // Input projections of every step, hoisted out of the loop: Gemm adds the bias inside the matrix product
  // (a broadcast Add over [seq, batch, H] costs more than the product itself).
  const hoisted = (g: 'z' | 'r' | 'h') =>
    s.node('Reshape', [s.node('Gemm', [xRows, w[g].Wx, w[g].bx], [`${s.prefix}x_W_x${g}_b`]), seqBatchH], [`${s.prefix}x_${g}_all`]);
  const [xzAll, xrAll, xhAll] = [hoisted('z'), hoisted('r'), hoisted('h')];
  if (ops.opset >= 9 && !ops.tuning.loop) {
    const hNext = writeCell(b, w, 'h_prev', 'xz_t', 'xr_t', 'xh_t');
    const g = body(['h_prev', 'xz_t', 'xr_t', 'xh_t'].map((n) => stateInfo(n, ['batch', H])), hNext);
    s.node('Scan', [h0, xzAll, xrAll, xhAll], [out.hT, ...scanOut], { body: attr.graph(g), num_scan_inputs: attr.int(3) });
    return finish();
  }
  const step = (all: string, g: string) => b.node('Gather', [all, 'step'], [`x${g}_t`], { axis: attr.int(0) });
  return loopOverSteps('step', writeCell(b, w, 'h_prev', step(xzAll, 'z'), step(xrAll, 'r'), step(xhAll, 'h')));
}

/**
 * Makes a recurrence exact for an empty x (seq 0 or batch 0, ifEmptyX): h_T = h_0 and hidden_states [batch,
 * seq, hidden]; only a non-empty x reaches `writeSteps`.
 */
function writeEmptyGuarded(
  s: Scope,
  z: Sizes,
  want: Want,
  out: { hT: string; hs: string },
  what: string,
  writeSteps: (st: Scope, out: { hT: string; hs: string }) => Recurrence,
): Recurrence {
  const outputs = [{ name: out.hT, dims: ['batch', z.H] }];
  if (want.hiddenStates) outputs.push({ name: out.hs, dims: ['batch', 'seq', z.H] });
  const names = (r: Recurrence) => (r.hs ? [r.hT, r.hs] : [r.hT]);
  ifEmptyX(
    s,
    outputs,
    what,
    (e) => {
      const hT = e.node('Identity', [want.h0 ? 'h0' : zerosState(e, z.H)], [`${e.prefix}h_T`]);
      if (!want.hiddenStates) return [hT];
      // x · 0 [input, hidden] has hidden_states' shape [batch, seq (0), hidden].
      return [hT, e.node('MatMul', ['x', e.float(`${e.prefix}zeros_i_h`, [z.I, z.H], new Float32Array(z.I * z.H))], [`${e.prefix}hs`])];
    },
    (st) => names(writeSteps(st, { hT: `${st.prefix}h_T`, hs: `${st.prefix}hs` })),
  );
  return want.hiddenStates ? { hT: out.hT, hs: out.hs } : { hT: out.hT };
}

function recurrenceOutputs(rec: Recurrence, H: number): onnx.ValueInfoProto[] {
  const o = [stateInfo(rec.hT, ['batch', H])];
  if (rec.hs) o.push(stateInfo(rec.hs, ['batch', 'seq', H]));
  return o;
}

/**
 * auto: one If(1 ≤ batch < threshold and seq ≥ 1): then the fused node, else the step Loop (exact on an empty x by
 * itself) or the hoisted scan behind its empty-x guard. The branches read x (or its seq-major copy made before
 * the If), h0 and their weights from the outer scope.
 */
function writeAuto(s: Scope, seed: Seed, out: { hT: string; hs: string }, threshold: number, projection: Projection): Recurrence {
  const { z, want, ops } = seed;
  const useFused = ops.tuning.autoEmptyGuard === false ? writeBatchOnlyCondition(s, ops.opset, threshold) : writeAutoCondition(s, z, ops.opset, threshold);
  // The hoisted scan and the GRU node both start from x in seq-major layout: transpose it once, before the If.
  const xT = projection === 'hoisted' ? s.node('Transpose', ['x'], ['x_seq_major'], { perm: attr.ints([1, 0, 2]) }) : undefined;
  const f = s.child('fused_');
  const fusedRec = writeFused(f, seed, { hT: 'fused_h_T', hs: 'fused_hs' }, xT);
  const sc = s.child('scan_');
  const scanOut = { hT: 'scan_h_T', hs: 'scan_hs' };
  // The step Loop gives h_T exactly on an empty x by itself (zero trips at seq 0); hidden_states would come out
  // [0, 0, hidden] at seq 0 (onnxruntime cannot know a zero-trip Loop's batch), and the hoisted Scan cannot run
  // on an empty axis: those two keep the guard.
  const scanRec =
    projection === 'step' && !want.hiddenStates
      ? writeScan(sc, seed, scanOut, 'step')
      : writeEmptyGuarded(sc, z, want, scanOut, 'the scan', (st, o) => writeScan(st, seed, o, projection, xT));
  const thenBranch = makeGraph({ name: 'fused_branch', nodes: f.nodes, inputs: [], outputs: recurrenceOutputs(fusedRec, z.H), docString: 'Small batch, seq ≥ 1: one GRU node.' });
  const elseBranch = makeGraph({ name: 'scan_branch', nodes: sc.nodes, inputs: [], outputs: recurrenceOutputs(scanRec, z.H), docString: 'Large batch or an empty x: the scan.' });
  const outs = want.hiddenStates ? [out.hT, out.hs] : [out.hT];
  s.node('If', [useFused], outs, { else_branch: attr.graph(elseBranch), then_branch: attr.graph(thenBranch) });
  return want.hiddenStates ? { hT: out.hT, hs: out.hs } : { hT: out.hT };
}

/**
 * auto's condition, 1 ≤ batch < T and seq ≥ 1, as one bool from x's shape [b, s, I].
 * Opset 12+: a lookup, three kernels: Min([b, s, I], [T, 1, 0]) clamps the shape into a constant [T + 1, 2, 1]
 * bool table that GatherND reads (Min takes int64 from 12). Measured at batch 1 against the sign test below:
 * 0.5–1.3 µs less per run, level with the batch-only switch.
 * Opsets 7–11: one sign test, four kernels: [b, s, I] − [[T, 0, 0], [0, 0, I − 1]] = [[b − T, s, I], [b, s, 1]],
 * whose product (b − T)·b·s²·I < 0 ⇔ 1 ≤ b < T and s ≥ 1 (Less-7 takes floating types only: before 9 it compares
 * as float). An empty x gives false either way, so it reaches the branch that is exact on it.
 */
function writeAutoCondition(s: Scope, z: Sizes, opset: number, threshold: number): string {
  const shape = s.node('Shape', ['x'], ['x_shape_for_auto']);
  if (opset >= 12) {
    const index = s.node('Min', [shape, s.int64('auto_clamp', [3], [threshold, 1, 0])], ['auto_table_index']);
    const table: number[] = [];
    for (let b = 0; b <= threshold; b++) table.push(0, b >= 1 && b < threshold ? 1 : 0);
    return s.node('GatherND', [s.bool('auto_table', [threshold + 1, 2, 1], table), index], ['use_fused']);
  }
  const shifted = s.node('Sub', [shape, s.int64('auto_threshold_0_0', [2, 3], [threshold, 0, 0, 0, 0, z.I - 1])], ['x_shape_minus_threshold']);
  const prod = s.node('ReduceProd', [shifted], ['auto_sign_product'], { keepdims: attr.int(0) });
  return lessThan(s, opset, prod, 'auto_zero', [], 0, 'use_fused');
}

/** The batch switch alone (batch < T), not exact: it aborts onnxruntime at seq 0. For the benchmark's floor. */
function writeBatchOnlyCondition(s: Scope, opset: number, threshold: number): string {
  const shape = s.node('Shape', ['x'], ['x_shape_for_auto']);
  const batch = s.node('Gather', [shape, s.int64('index_0_1d', [1], [0])], ['batch_1d'], { axis: attr.int(0) });
  return lessThan(s, opset, batch, 'auto_threshold', [1], threshold, 'use_fused');
}

/** What buildSeedModel decided: the form actually built, for which target and opset, and auto's threshold. */
export interface SeedPlan {
  built: ExportForm;
  target: ExportTarget;
  opset: number;
  threshold: number;
  tuning: ExportTuning;
}

/** The recurrence of `plan.built` in the main scope, its h_T (and hidden_states) under `names`. */
export function writeRecurrence(s: Scope, p: SeedParams, z: Sizes, want: Want, names: { hT: string; hs: string }, plan: SeedPlan): Recurrence {
  const ops = new Ops(plan.opset, plan.tuning);
  const seed: Seed = { p, z, want, ops };
  if (plan.built === 'fused' && ops.tuning.fusedEmptyGuard === false) return writeFused(s, seed, names);
  if (plan.built === 'fused') return writeEmptyGuarded(s, z, want, names, 'the GRU node', (st, o) => writeFused(st, seed, o));
  if (plan.built === 'scan') return writeEmptyGuarded(s, z, want, names, 'the scan', (st, o) => writeScan(st, seed, o));
  return writeAuto(s, seed, names, plan.threshold, ops.tuning.autoProjection ?? (plan.target === 'cpu' ? 'step' : 'hoisted'));
}

/** What every writer reads: the weights, their sizes, the inputs and outputs asked for, and the opset with the knobs. */
interface Seed {
  p: SeedParams;
  z: Sizes;
  want: Want;
  ops: Ops;
}
