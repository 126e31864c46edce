import { onnx } from '@gru-onnx/onnx';
import { LIMITS, PARAM_NAMES, Rng, UserError } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import { unravel } from './compare.ts';
import type { Feeds, NamedTensor } from './runner.ts';
import { dtypeOf, isFloat, toNumbers } from './tensor.ts';

/** One graph input or output: its name, element type and dimensions (numbers, symbolic names, or null when unknown). */
export interface ValueSignature {
  name: string;
  elemType: string;
  dims: (number | string | null)[] | null;
  /** Set for a value that is not a tensor (a sequence, map, optional or sparse tensor); elemType is then meaningless. */
  kind?: 'sequence' | 'map' | 'optional' | 'sparse';
}
export interface ModelSignature {
  inputs: ValueSignature[];
  outputs: ValueSignature[];
}

function valueSignature(v: onnx.IValueInfoProto): ValueSignature {
  const t = v.type?.tensorType;
  const elem = t?.elemType ?? 0;
  const elemType = onnx.TensorProto.DataType[elem] ?? `type ${elem}`;
  const dims = t?.shape?.dim
    ? t.shape.dim.map((d) => (d.dimValue !== undefined && d.dimValue !== null && d.dimParam == null ? Number(d.dimValue) : d.dimParam || null))
    : null;
  const type = v.type;
  const kind = !type || type.tensorType ? undefined : type.sequenceType ? 'sequence' : type.mapType ? 'map' : type.optionalType ? 'optional' : type.sparseTensorType ? 'sparse' : undefined;
  return { name: v.name ?? '', elemType, dims, ...(kind ? { kind } : {}) };
}

/** Decodes a model's graph inputs (initializers excluded: old models list them as inputs too) and outputs. */
export function readSignature(model: Uint8Array | onnx.ModelProto, source = 'model'): ModelSignature {
  let m: onnx.ModelProto;
  if (model instanceof Uint8Array) {
    try {
      m = onnx.ModelProto.decode(model);
    } catch (err) {
      throw new UserError(`${source}: not an ONNX model (${err instanceof Error ? err.message : String(err)})`);
    }
  } else {
    m = model;
  }
  const g = m.graph;
  if (!g) throw new UserError(`${source}: the model has no graph`);
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name)).map(valueSignature);
  const outputs = (g.output ?? []).map(valueSignature);
  if (outputs.length === 0) throw new UserError(`${source}: the graph has no outputs`);
  return { inputs, outputs };
}

/** A shape of the sweep. */
export interface Shape {
  batch: number;
  seq: number;
}

/** Issue 4's default sweep: batch {1, 3, 64} × seq {1, 10, 64, 257}. 257 is odd and past any power of two. */
export const DEFAULT_SHAPES: readonly Shape[] = [1, 3, 64].flatMap((batch) => [1, 10, 64, 257].map((seq) => ({ batch, seq })));
/** Edge inputs run at one middling shape: long enough for saturation to carry through the recurrence. */
export const DEFAULT_EDGE_SHAPE: Shape = { batch: 3, seq: 64 };
export const DEFAULT_SEED = 42;
/**
 * |x| for the saturating edge case. The seed's weights are about ±1/√H; with 8 inputs a pre-activation of about
 * 50·0.25·√8 ≈ 35 puts σ and tanh deep in saturation (σ(35) = 1 − 6e-16), where an exp overflow or a wrong
 * clamp would show.
 */
export const SATURATING_MAGNITUDE = 50;
/** Most values in one generated input (2^26 float32 = 256 MiB): far above the 64x257 sweep of any GRU classifier. */
export const MAX_INPUT_ELEMENTS = LIMITS.generatedInputElements;

export type CaseKind = 'random' | 'zeros' | 'saturating' | 'bundle' | 'user' | 'signature';

/** One input set to run on every backend. */
export interface VerifyCase {
  id: string;
  kind: CaseKind;
  /** Batch and seq of the main input when known (generated cases); bundles may have other inputs. */
  batch?: number;
  seq?: number;
  feeds: Feeds;
  /** A stateful case: each step's fresh inputs (step 0 also the carried inputs' first values); `feeds` is step 0's. */
  stepFeeds?: Feeds[];
}

const numeric = (d: number | string | null | undefined): number | undefined => (typeof d === 'number' ? d : undefined);

/**
 * The state slots of an imported model (sourceStateSizes): h0 [slots, batch, H], and c0 [lstmSlots, batch, H]
 * when it has LSTM layers. Without them a model's h0 is the seed's [batch, H].
 */
export interface StateSlots {
  slots: number;
  lstmSlots: number;
}

/** The names of x, h0 and c0 in a graph, with the sizes they take. */
export interface RecurrentInputs {
  x: string;
  h0?: string;
  c0?: string;
  inputSize: number;
  hiddenSize?: number;
}

/**
 * The inputs of the seed model, or of an imported one (`sizes.state`), in this graph: `x` [batch, seq, input] and
 * optionally `h0`: the seed's [batch, hidden], an import's [slots, batch, hidden]; and an import with LSTM layers
 * `c0` [lstmSlots, batch, hidden].
 */
export function seedInputs(sig: ModelSignature, sizes: { inputSize?: number; hiddenSize?: number; state?: StateSlots }): RecurrentInputs {
  const x = sig.inputs.find((v) => v.name === 'x') ?? (sig.inputs.length === 1 ? sig.inputs[0] : undefined);
  const state = sizes.state;
  const names = state ? (state.lstmSlots > 0 ? 'x, h0, c0' : 'x, h0') : 'x, h0';
  if (!x) throw new UserError(`model inputs ${sig.inputs.map((v) => v.name).join(', ')}: expected "x" [batch, seq, input] (and optionally ${names.slice(3)})`);
  const h0 = sig.inputs.find((v) => v.name === 'h0');
  const c0 = state && state.lstmSlots > 0 ? sig.inputs.find((v) => v.name === 'c0') : undefined;
  const others = sig.inputs.filter((v) => v !== x && v !== h0 && v !== c0);
  if (others.length > 0) throw new UserError(`model input ${others[0]!.name}: not one of the ${state ? "model's" : "seed model's"} inputs (${names}); use a bundle to supply it`);
  if (x.dims && x.dims.length !== 3) throw new UserError(`model input ${x.name}: rank ${x.dims.length}, expected [batch, seq, input]`);
  const inputSize = numeric(x.dims?.[2]) ?? sizes.inputSize;
  if (inputSize === undefined) throw new UserError(`model input ${x.name}: input size is symbolic and no weights were given`);
  // The graph's declared sizes must agree with the weights': a file declaring 10⁹ inputs is refused here, before
  // any input is allocated.
  if (sizes.inputSize !== undefined && inputSize !== sizes.inputSize) throw new UserError(`model input ${x.name}: input size ${inputSize}, but the weights have ${sizes.inputSize}`);
  const hAxis = state ? 2 : 1;
  const hiddenSize = numeric(h0?.dims?.[hAxis]) ?? numeric(c0?.dims?.[hAxis]) ?? sizes.hiddenSize;
  for (const [v, slots] of [[h0, state?.slots], [c0, state?.lstmSlots]] as const) {
    if (!v) continue;
    if (v.dims && v.dims.length !== hAxis + 1) throw new UserError(`model input ${v.name}: rank ${v.dims.length}, expected [${state ? 'slots, ' : ''}batch, hidden]`);
    if (slots !== undefined && numeric(v.dims?.[0]) !== undefined && numeric(v.dims?.[0]) !== slots) throw new UserError(`model input ${v.name}: ${String(v.dims![0])} state slots, but the weights have ${slots} (layers · directions)`);
    const declared = numeric(v.dims?.[hAxis]);
    if (sizes.hiddenSize !== undefined && declared !== undefined && declared !== sizes.hiddenSize) throw new UserError(`model input ${v.name}: hidden size ${declared}, but the weights have ${sizes.hiddenSize}`);
    if (hiddenSize === undefined) throw new UserError(`model input ${v.name}: hidden size is symbolic and no weights were given`);
  }
  return { x: x.name, ...(h0 ? { h0: h0.name } : {}), ...(c0 ? { c0: c0.name } : {}), inputSize, ...(hiddenSize !== undefined ? { hiddenSize } : {}) };
}

export interface GenerateOptions {
  shapes?: readonly Shape[];
  seed?: number;
  /** Edge inputs (all zeros, saturating magnitudes); on by default. */
  edgeCases?: boolean;
  edgeShape?: Shape;
}

/**
 * The sweep's inputs from one seed: x ~ N(0, 1), h0 (and an import's c0) ~ U(−1, 1) where the model takes them. Every case draws from
 * its own generator seeded from (seed, case index), so adding a shape does not change the others' inputs.
 */
export function generateCases(sig: ModelSignature, sizes: { inputSize?: number; hiddenSize?: number; state?: StateSlots }, options: GenerateOptions = {}): VerifyCase[] {
  const names = seedInputs(sig, sizes);
  // The seed's h0 is [batch, H]; an import's [slots, batch, H], and its c0 [lstmSlots, batch, H].
  const slots = sizes.state?.slots ?? 1;
  const lstmSlots = names.c0 ? sizes.state!.lstmSlots : 0;
  const seed = options.seed ?? DEFAULT_SEED;
  const shapes = options.shapes ?? DEFAULT_SHAPES;
  const I = names.inputSize;
  const H = names.hiddenSize ?? 0;
  const make = (kind: CaseKind, s: Shape, index: number): VerifyCase => {
    // Sizes come from the model file when no weights are given: bound them before allocating.
    if (s.batch * s.seq * I > MAX_INPUT_ELEMENTS || slots * s.batch * H > MAX_INPUT_ELEMENTS) {
      throw new UserError(`input ${s.batch}x${s.seq} with input size ${I}, hidden size ${H} needs more than ${MAX_INPUT_ELEMENTS} values per input`);
    }
    const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const x = new Float32Array(s.batch * s.seq * I);
    const h0 = new Float32Array(slots * s.batch * H);
    const c0 = new Float32Array(lstmSlots * s.batch * H);
    if (kind === 'random') {
      for (let i = 0; i < x.length; i++) x[i] = rng.normal();
      for (let i = 0; i < h0.length; i++) h0[i] = rng.range(-1, 1);
      for (let i = 0; i < c0.length; i++) c0[i] = rng.range(-1, 1);
    } else if (kind === 'saturating') {
      for (let i = 0; i < x.length; i++) x[i] = (rng.uniform() < 0.5 ? -1 : 1) * SATURATING_MAGNITUDE * rng.range(0.5, 1);
      for (let i = 0; i < h0.length; i++) h0[i] = rng.uniform() < 0.5 ? -0.99 : 0.99;
      for (let i = 0; i < c0.length; i++) c0[i] = rng.uniform() < 0.5 ? -0.99 : 0.99;
    }
    const feeds: Feeds = { [names.x]: { dims: [s.batch, s.seq, I], data: x } };
    if (names.h0) feeds[names.h0] = { dims: sizes.state ? [slots, s.batch, H] : [s.batch, H], data: h0 };
    if (names.c0) feeds[names.c0] = { dims: [lstmSlots, s.batch, H], data: c0 };
    const id = kind === 'random' ? `${s.batch}x${s.seq}` : `${kind} ${s.batch}x${s.seq}`;
    return { id, kind, batch: s.batch, seq: s.seq, feeds };
  };
  const cases = shapes.map((s, i) => make('random', s, i));
  if (options.edgeCases ?? true) {
    const edge = options.edgeShape ?? DEFAULT_EDGE_SHAPE;
    cases.push(make('zeros', edge, shapes.length), make('saturating', edge, shapes.length + 1));
  }
  return cases;
}

/** The first NaN/±Inf in `data`, as a multi-index, or undefined. */
export function firstNonFinite(data: ArrayLike<number>, dims: number[]): { index: number[]; value: number } | undefined {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) return { index: unravel(i, dims), value: v };
  }
  return undefined;
}

/**
 * Checks inputs a user supplied (or a bundle stored) before any backend runs: names, ranks and fixed dimensions
 * against the graph, value counts, and NaN/Inf with their location — all one-line UserErrors. With `lenient` (a
 * bundle without weights: its stored outputs say what the model does) NaN/Inf and shapes other than the declared
 * ones pass, and the runtime is the judge: ONNX's own tests feed NaN to IsNaN and a rank-1 `like` to CastLike. Only
 * the float64 reference, which has no meaning for them, refuses them. Non-tensor inputs (sequences…) are skipped.
 */
export function validateFeeds(feeds: Feeds, sig: ModelSignature, source: string, lenient = false): void {
  for (const name of Object.keys(feeds)) {
    if (!sig.inputs.some((v) => v.name === name)) {
      throw new UserError(`${source}: input "${name}" is not a model input (model inputs: ${sig.inputs.map((v) => v.name).join(', ')})`);
    }
  }
  for (const v of sig.inputs) {
    if (v.kind) continue;
    const t: NamedTensor | undefined = feeds[v.name];
    if (!t) throw new UserError(`${source}: missing model input "${v.name}"`);
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UserError(`${source}: input ${v.name}: bad dimensions [${t.dims.join(', ')}]`);
    if (count !== t.data.length) throw new UserError(`${source}: input ${v.name}: ${t.data.length} values for shape [${t.dims.join(', ')}]`);
    if (v.dims && !lenient) {
      if (v.dims.length !== t.dims.length) throw new UserError(`${source}: input ${v.name}: rank ${t.dims.length}, the model declares [${v.dims.map((d) => d ?? '?').join(', ')}]`);
      v.dims.forEach((d, i) => {
        if (typeof d === 'number' && d !== t.dims[i]) {
          throw new UserError(`${source}: input ${v.name}: shape [${t.dims.join(', ')}], the model declares [${v.dims!.map((e) => e ?? '?').join(', ')}]`);
        }
      });
    }
    const bad = !lenient && isFloat(dtypeOf(t)) ? firstNonFinite(toNumbers(t), t.dims) : undefined;
    if (bad) throw new UserError(`${source}: input ${v.name}: ${bad.value} at [${bad.index.join(', ')}]`);
  }
}

/** NaN/Inf in weights, reported up front with the parameter name and index. */
export function validateParams(params: SeedParams, source = 'weights'): void {
  for (const name of PARAM_NAMES) {
    const t = params[name];
    if (!t) throw new UserError(`${source}: missing parameter ${name}`);
    const bad = firstNonFinite(t.data, t.shape);
    if (bad) throw new UserError(`${source}: ${name}: ${bad.value} at [${bad.index.join(', ')}]`);
  }
}
