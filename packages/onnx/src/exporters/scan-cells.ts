/**
 * The `scan` form of a recurrent layer: ONNX's own GRU, LSTM and RNN equations (operator spec, gate order z r h,
 * i o f c, and one block) from primitive ops in a Scan, for runtimes without the kernels. From the same
 * ONNX-layout W, R, B as the fused node, so the two forms can only differ where one of them is wrong.
 *
 * Per direction, the input projections of every step are hoisted out of the loop, one Gemm per gate over the
 * seq-major input (bias Wb + Rb folded in, except GRU's Rb_h under linear_before_reset = 1, which r multiplies),
 * and the body is, with f, g, h the layer's activations:
 *   GRU   z = f(xz_t + h R_zᵀ), r = f(xr_t + h R_rᵀ),
 *         h̃ = g(xh_t + (r ⊙ h) R_hᵀ)  (lbr 0)  or  g(xh_t + r ⊙ (h R_hᵀ + Rb_h))  (lbr 1),  h' = h̃ + z ⊙ (h − h̃)
 *   LSTM  i = f(xi_t + h R_iᵀ), o = f(xo_t + h R_oᵀ), f_t = f(xf_t + h R_fᵀ), c̃ = g(xc_t + h R_cᵀ),
 *         c' = f_t ⊙ c + i ⊙ c̃, h' = o ⊙ h(c')
 *   RNN   h' = f(x_t + h Rᵀ)
 * Each `x_t + h Rᵀ` is one Gemm with x_t as its C input. The reverse direction is the same Scan with
 * scan_input_directions and scan_output_directions 1, so its outputs come back in time order. Opsets 7–8 have
 * Scan-8's batch-axis semantics, so there a Loop gathers step t (seq − 1 − i for the reverse) instead.
 */
import { UserError } from '@gru-onnx/model';
import { attr, makeGraph, makeValueInfo } from '../builder.ts';
import type { AttributeValue } from '../builder.ts';
import { transposeMatrix } from '../matrix.ts';
import type { onnx } from '../proto.ts';
import { zerosState } from '../scope.ts';
import type { Scope } from '../scope.ts';
import type { LayerIn, LayerOut, OnnxCell, OnnxRecurrentLayer } from './recurrent-chain.ts';

/** Gate blocks per cell: GRU z, r, h; LSTM i, o, f, c; RNN one. */
export const CELL_GATES: Readonly<Record<OnnxCell, number>> = { GRU: 3, LSTM: 4, RNN: 1 };

/** ONNX's default activations of one direction. */
const DEFAULT_ACTIVATIONS: Readonly<Record<OnnxCell, readonly string[]>> = {
  GRU: ['Sigmoid', 'Tanh'],
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
  RNN: ['Tanh'],
};

/**
 * The activation functions of ONNX's recurrent ops, each with the parameters it consumes from activation_alpha and
 * activation_beta and their defaults (onnxruntime's; undefined: required).
 */
const ACTIVATION_PARAMS = {
  Sigmoid: {},
  Tanh: {},
  Relu: {},
  Softsign: {},
  Softplus: {},
  HardSigmoid: { alpha: 0.2, beta: 0.5 },
  LeakyRelu: { alpha: 0.01 },
  Elu: { alpha: 1 },
  ThresholdedRelu: { alpha: undefined },
  Affine: { alpha: undefined, beta: undefined },
  ScaledTanh: { alpha: undefined, beta: undefined },
} as const satisfies Record<string, { alpha?: number | undefined; beta?: number | undefined }>;
type ActivationName = keyof typeof ACTIVATION_PARAMS;
const ACTIVATION_NAMES = Object.keys(ACTIVATION_PARAMS) as ActivationName[];

/** One activation function with its parameters. */
export interface Activation {
  op: ActivationName;
  alpha?: number;
  beta?: number;
}

/**
 * A layer's activations for one direction. As in the operator spec (and onnxruntime), activation_alpha and
 * activation_beta are consumed in order by the functions that take them, each falling back to its default.
 */
export function layerActivations(l: OnnxRecurrentLayer, where: string): Activation[] {
  const names = l.activations?.names ?? DEFAULT_ACTIVATIONS[l.cell];
  const want = DEFAULT_ACTIVATIONS[l.cell].length;
  if (names.length !== want) throw new UserError(`${where}: ${l.cell} takes ${want} activations per direction, not ${names.length} (${names.join(', ')})`);
  const alpha = [...(l.activations?.alpha ?? [])];
  const beta = [...(l.activations?.beta ?? [])];
  return names.map((name) => {
    const op = ACTIVATION_NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
    if (!op) throw new UserError(`${where}: activation '${name}' is not one of ONNX's for recurrent ops (${ACTIVATION_NAMES.join(', ')})`);
    const params: { alpha?: number | undefined; beta?: number | undefined } = ACTIVATION_PARAMS[op];
    const a: Activation = { op };
    for (const [key, list] of [['alpha', alpha], ['beta', beta]] as const) {
      if (!(key in params)) continue;
      const v = list.shift() ?? params[key];
      if (v === undefined) throw new UserError(`${where}: activation ${op} needs activation_${key}, and none is left for it`);
      a[key] = v;
    }
    return a;
  });
}

function applyActivation(b: Scope, a: Activation, input: string, out: string): string {
  const c = (name: string, v: number) => b.float(`${out}_${name}`, [], [v]);
  switch (a.op) {
    case 'HardSigmoid':
      return b.node(a.op, [input], [out], { alpha: attr.float(a.alpha!), beta: attr.float(a.beta!) });
    case 'LeakyRelu':
    case 'Elu':
      return b.node(a.op, [input], [out], { alpha: attr.float(a.alpha!) });
    case 'ThresholdedRelu': {
      // x where x > alpha, else 0 (the ThresholdedRelu op only exists from opset 10).
      const above = b.node('Greater', [input, c('alpha', a.alpha!)], [`${out}_above`]);
      return b.node('Mul', [input, b.node('Cast', [above], [`${out}_mask`], { to: attr.int(1) })], [out]);
    }
    case 'Affine':
      return b.node('Add', [b.node('Mul', [input, c('alpha', a.alpha!)], [`${out}_scaled`]), c('beta', a.beta!)], [out]);
    case 'ScaledTanh': {
      const t = b.node('Tanh', [b.node('Mul', [input, c('beta', a.beta!)], [`${out}_scaled`])], [`${out}_tanh`]);
      return b.node('Mul', [t, c('alpha', a.alpha!)], [out]);
    }
    default:
      return b.node(a.op, [input], [out]);
  }
}

/** Rows [g·H, (g + 1)·H) of direction d's [G·H, n] block in a [dirs, G·H, n] tensor. */
function gateBlock(m: Float32Array, G: number, H: number, n: number, d: number, g: number): Float32Array {
  const start = (d * G + g) * H * n;
  return m.subarray(start, start + H * n);
}

/** Direction d's Wb and Rb of gate g, each [H], from B [dirs, 2·G·H]. */
function biases(l: OnnxRecurrentLayer, d: number, g: number): { Wb: Float32Array; Rb: Float32Array } {
  const G = CELL_GATES[l.cell];
  const H = l.hiddenSize;
  const base = d * 2 * G * H;
  return { Wb: l.B.subarray(base + g * H, base + (g + 1) * H), Rb: l.B.subarray(base + (G + g) * H, base + (G + g + 1) * H) };
}

const add = (a: Float32Array, b: Float32Array) => a.map((v, i) => v + b[i]!);

/** GRU with linear_before_reset 1 keeps Rb_h inside r ⊙ (h R_hᵀ + Rb_h); every other recurrent bias joins Wb. */
const rbInside = (l: OnnxRecurrentLayer, g: number) => l.cell === 'GRU' && g === 2 && l.linearBeforeReset === 1;

/** The scan form of one layer: one Scan (or Loop) per direction. */
export function writeScanLayer(s: Scope, l: OnnxRecurrentLayer, k: number, input: LayerIn, opset: number): LayerOut {
  const G = CELL_GATES[l.cell];
  const H = l.hiddenSize;
  const I = l.inputSize;
  const acts = layerActivations(l, `layer ${k}`);
  const lstm = l.cell === 'LSTM';
  const p = `${s.prefix}l${k}_`;
  // x [seq, batch, I] → rows [seq·batch, I]: one Gemm per gate projects every step at once.
  const xRows = s.node('Flatten', [input.X], [`${p}x_rows`], { axis: attr.int(2) });
  const xShape = s.node('Shape', [input.X], [`${p}input_shape`]);
  const seqBatch = s.node('Gather', [xShape, s.int64(`${p}index_0_1`, [2], [0, 1])], [`${p}seq_batch`], { axis: attr.int(0) });
  const seqBatchH = s.node('Concat', [seqBatch, s.int64(`${p}hidden_1d`, [1], [H])], [`${p}seq_batch_hidden`], { axis: attr.int(0) });
  const zeros = input.h0 && (!lstm || input.c0) ? '' : zerosState(s, H, `l${k}_`);
  const hT: string[] = [];
  const cT: string[] = [];
  const hs: string[] = [];
  for (let d = 0; d < l.dirs; d++) {
    const q = `${p}d${d}_`;
    const projected = Array.from({ length: G }, (_, g) => {
      const { Wb, Rb } = biases(l, d, g);
      const WT = s.float(`${q}W_${g}_T`, [I, H], transposeMatrix(gateBlock(l.W, G, H, I, d, g), H, I));
      const bias = s.float(`${q}b_${g}`, [H], rbInside(l, g) ? Wb : add(Wb, Rb));
      const gemm = s.node('Gemm', [xRows, WT, bias], [`${q}x_proj_${g}_rows`]);
      return s.node('Reshape', [gemm, seqBatchH], [`${q}x_proj_${g}`]);
    });
    const initial = (state: string | undefined, tag: string) =>
      state ? s.node('Gather', [state, s.int64(`${q}${tag}_index`, [], [d])], [`${q}${tag}_init`], { axis: attr.int(0) }) : zeros;
    const hInit = initial(input.h0, 'h0');
    const cInit = lstm ? initial(input.c0, 'c0') : undefined;

    const b = s.child(`${q}step_`);
    const RT = (g: string | number) => s.float(`${q}R_${g}_T`, [H, H], transposeMatrix(gateBlock(l.R, G, H, H, d, Number(g)), H, H));
    const hPrev = `${b.prefix}h_prev`;
    const cPrev = `${b.prefix}c_prev`;
    const xt = Array.from({ length: G }, (_, g) => `${b.prefix}x_${g}_t`);
    const reverse = d === 1;
    // Opsets 7–8: the Loop's body gathers its step of each projection first.
    const loop = opset < 9 ? loopPrologue(s, b, q, xShape, projected, xt, reverse) : undefined;
    // x_t + h Rᵀ for gate g, through the activation.
    const gate = (g: number, a: Activation, name: string) =>
      applyActivation(b, a, b.node('Gemm', [hPrev, RT(g), xt[g]!], [`${b.prefix}${name}_pre`]), `${b.prefix}${name}`);
    let hNext: string;
    let cNext: string | undefined;
    if (l.cell === 'GRU') {
      const [f, g] = acts as [Activation, Activation];
      const z = gate(0, f, 'z');
      const r = gate(1, f, 'r');
      let pre: string;
      if (l.linearBeforeReset === 1) {
        const recurrent = b.node('Gemm', [hPrev, RT(2), s.float(`${q}Rb_h`, [H], biases(l, d, 2).Rb)], [`${b.prefix}h_R_h_Rb_h`]);
        pre = b.node('Add', [xt[2]!, b.node('Mul', [r, recurrent], [`${b.prefix}r_h_R_h`])], [`${b.prefix}h_tilde_pre`]);
      } else {
        const rh = b.node('Mul', [r, hPrev], [`${b.prefix}r_h`]);
        pre = b.node('Gemm', [rh, RT(2), xt[2]!], [`${b.prefix}h_tilde_pre`]);
      }
      const hTilde = applyActivation(b, g, pre, `${b.prefix}h_tilde`);
      const zDelta = b.node('Mul', [z, b.node('Sub', [hPrev, hTilde], [`${b.prefix}h_minus_h_tilde`])], [`${b.prefix}z_delta`]);
      hNext = b.node('Add', [hTilde, zDelta], [`${b.prefix}h_next`]);
    } else if (l.cell === 'LSTM') {
      const [f, g, h] = acts as [Activation, Activation, Activation];
      const i = gate(0, f, 'i');
      const o = gate(1, f, 'o');
      const ft = gate(2, f, 'f');
      const cTilde = gate(3, g, 'c_tilde');
      cNext = b.node('Add', [b.node('Mul', [ft, cPrev], [`${b.prefix}f_c`]), b.node('Mul', [i, cTilde], [`${b.prefix}i_c_tilde`])], [`${b.prefix}c_next`]);
      hNext = b.node('Mul', [o, applyActivation(b, h, cNext, `${b.prefix}h_of_c`)], [`${b.prefix}h_next`]);
    } else {
      hNext = gate(0, acts[0]!, 'h_next');
    }

    const state = (n: string) => makeValueInfo(n, 'float32', ['batch', H]);
    const stateIn = [state(hPrev), ...(lstm ? [state(cPrev)] : [])];
    const stateOut = [state(hNext), ...(cNext ? [state(cNext)] : [])];
    // A body output is listed once: every step's h leaves through an Identity.
    const stepOut = input.needY ? [state(b.node('Identity', [hNext], [`${b.prefix}h_step`]))] : [];
    const hTd = `${q}h_T`;
    const cTd = lstm ? `${q}c_T` : undefined;
    const hsd = input.needY ? `${q}hs` : undefined;
    if (!loop) {
      const body = makeGraph({ name: `${q}step`, nodes: b.nodes, inputs: [...stateIn, ...xt.map(state)], outputs: [...stateOut, ...stepOut], docString: `One step of layer ${k}'s ${l.cell}, ${reverse ? 'reverse' : 'forward'}.` });
      const attributes: Record<string, AttributeValue> = { body: attr.graph(body), num_scan_inputs: attr.int(G) };
      if (reverse) {
        attributes.scan_input_directions = attr.ints(Array<number>(G).fill(1));
        if (hsd) attributes.scan_output_directions = attr.ints([1]);
      }
      s.node('Scan', [hInit, ...(cInit ? [cInit] : []), ...projected], [hTd, ...(cTd ? [cTd] : []), ...(hsd ? [hsd] : [])], attributes);
    } else {
      writeLoop(s, b, q, loop, { stateIn, stateOut, stepOut, init: [hInit, ...(cInit ? [cInit] : [])], outs: [hTd, ...(cTd ? [cTd] : [])], hs: hsd });
    }
    hT.push(hTd);
    if (cTd) cT.push(cTd);
    if (hsd) hs.push(hsd);
  }
  // Final states [batch, H] → [dirs, batch, H]; outputs [seq, batch, H] → [seq, batch, dirs·H].
  const stack = (parts: string[], out: string) => {
    const rows = parts.map((t) => s.node('Reshape', [t, s.int64(`${t}_shape_1_b_h`, [3], [1, -1, H])], [`${t}_1_b_h`]));
    return s.node(rows.length === 1 ? 'Identity' : 'Concat', rows, [out], rows.length === 1 ? {} : { axis: attr.int(0) });
  };
  const Yh = stack(hT, `${p}Y_h`);
  const Yc = input.needYc ? stack(cT, `${p}Y_c`) : undefined;
  const Y = hs.length === 0 ? undefined : hs.length === 1 ? hs[0] : s.node('Concat', hs, [`${p}out`], { axis: attr.int(2) });
  return { Y, Yh, Yc };
}

/** What the Loop's body starts with: the trip count, its trip number, and t where the step reads (reverse: seq − 1 − i). */
interface LoopStart {
  seq: string;
  trip: string;
  t: string;
}

/**
 * Opsets 7–8 (Scan-8's batch-axis semantics would run the body once per row): a Loop of seq trips whose body
 * gathers step t = i (forward) or seq − 1 − i (reverse) of each projection.
 */
function loopPrologue(s: Scope, b: Scope, q: string, xShape: string, projected: string[], xt: string[], reverse: boolean): LoopStart {
  const seq = s.node('Gather', [xShape, s.int64(`${q}index_0`, [], [0])], [`${q}seq`], { axis: attr.int(0) });
  const trip = `${b.prefix}trip`;
  let t = trip;
  if (reverse) {
    const last = s.node('Sub', [seq, s.int64(`${q}one`, [], [1])], [`${q}seq_minus_1`]);
    t = b.node('Sub', [last, trip], [`${b.prefix}t`]);
  }
  projected.forEach((all, g) => b.node('Gather', [all, t], [xt[g]!], { axis: attr.int(0) }));
  return { seq, trip, t };
}

interface LoopParts {
  stateIn: onnx.ValueInfoProto[];
  stateOut: onnx.ValueInfoProto[];
  stepOut: onnx.ValueInfoProto[];
  init: string[];
  outs: string[];
  hs?: string;
}

/**
 * The Loop over the body written so far. The reverse direction also emits t per trip, and its outputs (in trip
 * order) are gathered back into time order by those t: the reversal is its own inverse.
 */
function writeLoop(s: Scope, b: Scope, q: string, start: LoopStart, l: LoopParts): void {
  const cond = b.node('Identity', [`${b.prefix}cond_in`], [`${b.prefix}cond_out`]);
  const reversed = start.t !== start.trip && l.hs !== undefined;
  const tOut = reversed ? [makeValueInfo(b.node('Identity', [start.t], [`${b.prefix}t_out`]), 'int64', [])] : [];
  const body = makeGraph({
    name: `${q}step`,
    nodes: b.nodes,
    inputs: [makeValueInfo(start.trip, 'int64', []), makeValueInfo(`${b.prefix}cond_in`, 'bool', []), ...l.stateIn],
    outputs: [makeValueInfo(cond, 'bool', []), ...l.stateOut, ...l.stepOut, ...tOut],
  });
  const raw = reversed ? `${l.hs}_trip_order` : l.hs;
  const ts = `${q}t_per_trip`;
  s.node('Loop', [start.seq, '', ...l.init], [...l.outs, ...(raw ? [raw] : []), ...(reversed ? [ts] : [])], { body: attr.graph(body) });
  if (reversed) s.node('Gather', [raw!, ts], [l.hs!], { axis: attr.int(0) });
}
