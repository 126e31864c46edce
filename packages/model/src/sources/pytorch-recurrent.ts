import { UserError } from '../errors.ts';
import type { SafetensorsFile } from '../safetensors.ts';
import type { SourceOutputs, SourceState } from './source-model.ts';

/**
 * A PyTorch recurrent classifier: one `nn.GRU`, `nn.LSTM` or `nn.RNN` (`torch.nn.RNNBase`: input, hidden,
 * num_layers, bidirectional, batch_first) followed by an `nn.Linear` head. Which output the Linear reads is in
 * forward(), not in the state_dict: see PytorchHead. The cell is told by the rows per hidden unit of
 * `weight_ih_l0` (G = 3, 4 or 1); its gates are stacked in that order in every [G·H, ·] tensor (torch.nn docs):
 *
 *   GRU (r, z, n)   r  = σ(W_ir x + b_ir + W_hr h + b_hr)       z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *                   n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 *                   h' = (1 − z) ⊙ n + z ⊙ h
 *   LSTM (i, f, g, o)  i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
 *                   g  = tanh(W_ig x + b_ig + W_hg h + b_hg)    o = σ(W_io x + b_io + W_ho h + b_ho)
 *                   c' = f ⊙ c + i ⊙ g                          h' = o ⊙ tanh(c')
 *   RNN             h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)
 */
export interface PytorchDirection {
  /** weight_ih_l{k}[_reverse]: [G·H, layer input]. */
  wIh: Float32Array;
  /** weight_hh_l{k}[_reverse]: [G·H, H]. */
  wHh: Float32Array;
  /** bias_ih_l{k}[_reverse]: [G·H] (zeros when the module has bias=False). */
  bIh: Float32Array;
  /** bias_hh_l{k}[_reverse]: [G·H]. */
  bHh: Float32Array;
}

export interface PytorchLayer {
  /** input size for layer 0, dirs·H above it. */
  inputSize: number;
  /** [forward] or [forward, reverse]. */
  directions: PytorchDirection[];
}

/** The cells of torch.nn.RNNBase, with their gate blocks per hidden unit (G) and the source kind each is. */
export const PYTORCH_CELLS = {
  GRU: { gates: 3, kind: 'pytorch-gru' },
  LSTM: { gates: 4, kind: 'pytorch-lstm' },
  RNN: { gates: 1, kind: 'pytorch-rnn' },
} as const;
export type PytorchCell = keyof typeof PYTORCH_CELLS;
export type PytorchKind = (typeof PYTORCH_CELLS)[PytorchCell]['kind'];
export const PYTORCH_NONLINEARITIES = ['tanh', 'relu'] as const;
export type PytorchNonlinearity = (typeof PYTORCH_NONLINEARITIES)[number];

export function isPytorchNonlinearity(s: string): s is PytorchNonlinearity {
  return (PYTORCH_NONLINEARITIES as readonly string[]).includes(s);
}

/** The cell of a PyTorch source kind. */
export function pytorchCellOf(kind: PytorchKind): PytorchCell {
  return kind === 'pytorch-gru' ? 'GRU' : kind === 'pytorch-lstm' ? 'LSTM' : 'RNN';
}

export function isPytorchKind(kind: string): kind is PytorchKind {
  return kind === 'pytorch-gru' || kind === 'pytorch-lstm' || kind === 'pytorch-rnn';
}

/**
 * What the Linear reads, with out, h_n = rnn(x) (an LSTM's out, (h_n, c_n)) and out [batch, seq, dirs·H]
 * (batch_first):
 * - `final-state`: the last layer's final hidden state, both directions: fc(h_n[-1]), fc(cat(h_n[-2], h_n[-1]));
 * - `last-step`: the output at the last time step, fc(out[:, -1]);
 * - `mean`: the outputs averaged over time, fc(out.mean(dim=1)).
 * Unidirectional, final-state and last-step are the same numbers; bidirectional they are not, because the reverse
 * direction's final state is its output at t = 0. At seq 0 (PyTorch refuses it) h_n is the initial state, so
 * final-state reads h_0's last layer (zeros without one: fc(0)); last-step and mean read zeros, no step existing
 * (for mean the empty sum, not 0/0).
 */
export const PYTORCH_HEADS = ['final-state', 'last-step', 'mean'] as const;
export type PytorchHead = (typeof PYTORCH_HEADS)[number];

export function isPytorchHead(s: string): s is PytorchHead {
  return (PYTORCH_HEADS as readonly string[]).includes(s);
}

interface PytorchRecurrentBase {
  /** What the Linear reads: declared (--head, or the exported model's metadata), or final-state where the heads coincide. */
  head: PytorchHead;
  /** False when `head` was not declared but taken as final-state (= last-step) for a unidirectional model. */
  headDeclared: boolean;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  numLayers: number;
  bidirectional: boolean;
  /**
   * From `__metadata__.batch_first`, as the state_dict does not carry it; undefined when absent. Informational:
   * the reference and the exported ONNX model always take x as [batch, seq, input].
   */
  batchFirst: boolean | undefined;
  layers: PytorchLayer[];
  /** The head: weight [O, dirs·H], bias [O] (zeros when the Linear has bias=False). */
  fc: { weight: Float32Array; bias: Float32Array };
  /** State-dict name prefixes, for messages: e.g. 'gru.' and 'fc.'. */
  prefixes: { rnn: string; head: string };
}

export interface PytorchGru extends PytorchRecurrentBase {
  kind: 'pytorch-gru';
}
export interface PytorchLstm extends PytorchRecurrentBase {
  kind: 'pytorch-lstm';
}
export interface PytorchRnn extends PytorchRecurrentBase {
  kind: 'pytorch-rnn';
  /** nn.RNN(nonlinearity=…): not in the state_dict; from `__metadata__.nonlinearity` or --nonlinearity. */
  nonlinearity: PytorchNonlinearity;
}
/** Any torch.nn.RNNBase classifier. */
export type PytorchRecurrent = PytorchGru | PytorchLstm | PytorchRnn;

/** Names ending like this mark an RNNBase state_dict; what precedes is the module's prefix ('gru.', 'rnn.', ''). */
export const PYTORCH_RNN_MARK = 'weight_ih_l0';

/** The prefix of the nn.GRU/LSTM/RNN module in a state_dict, or undefined when it holds none. */
export function findPytorchRnnPrefix(names: Iterable<string>, source: string): string | undefined {
  const prefixes = [...names].filter((n) => n.endsWith(PYTORCH_RNN_MARK)).map((n) => n.slice(0, -PYTORCH_RNN_MARK.length));
  if (prefixes.length > 1) throw new UserError(`${source}: found ${prefixes.length} recurrent modules (${prefixes.map((p) => `${p}${PYTORCH_RNN_MARK}`).join(', ')}); only one nn.GRU, nn.LSTM or nn.RNN followed by one nn.Linear is supported`);
  return prefixes[0];
}

/**
 * The cell a state_dict holds, from the rows per hidden unit of `weight_ih_l0` (H from `weight_hh_l0`'s columns),
 * as a source kind; an LSTM with proj_size, or any other layout, is refused saying what was found.
 */
export function detectPytorchCell(file: Pick<SafetensorsFile, 'tensors'>, prefix: string, fail: (msg: string) => never): PytorchCell {
  const hr = file.tensors.get(`${prefix}weight_hr_l0`);
  if (hr) fail(`'${prefix}weight_hr_l0' is [${hr.shape.join(', ')}]: an nn.LSTM with proj_size=${hr.shape[0]}, which is not supported (h_n and out would be the projection, [·, proj_size]); use an nn.LSTM without proj_size`);
  const ih = file.tensors.get(`${prefix}${PYTORCH_RNN_MARK}`);
  const hh = file.tensors.get(`${prefix}weight_hh_l0`) ?? fail(`missing tensor '${prefix}weight_hh_l0'`);
  const [rows, inputSize] = ih?.shape ?? [];
  const [hhRows, H] = hh.shape;
  if (ih?.shape.length !== 2 || hh.shape.length !== 2 || !rows || !inputSize || !H || rows !== hhRows || rows % H !== 0) {
    return fail(`'${prefix}weight_ih_l0' is [${ih?.shape.join(', ')}] and '${prefix}weight_hh_l0' [${hh.shape.join(', ')}]: not an nn.GRU, nn.LSTM or nn.RNN layer ([G·hidden, input] and [G·hidden, hidden], G = 3, 4 or 1)`);
  }
  const G = rows / H;
  const cell = (Object.keys(PYTORCH_CELLS) as PytorchCell[]).find((c) => PYTORCH_CELLS[c].gates === G);
  if (!cell) fail(`'${prefix}weight_hh_l0' is [${hh.shape.join(', ')}]: ${G}·hidden rows, a cell that is none of nn.GRU (3·hidden rows), nn.LSTM (4) or nn.RNN (1)`);
  return cell!;
}

function parseFlag(meta: Record<string, string>, key: string, fail: (msg: string) => never): boolean | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return fail(`__metadata__ ${key} is '${v}', not true or false`);
}

type ForwardShape = Pick<PytorchRecurrent, 'kind' | 'head' | 'bidirectional' | 'batchFirst' | 'prefixes'>;

/** The forward a head stands for, in the model's own module names: `logits = fc(cat(h_n[-2], h_n[-1]))`. */
export function pytorchForwardLine(m: Omit<ForwardShape, 'kind'>): string {
  const fc = m.prefixes.head.replace(/\.$/, '') || 'fc';
  const seqFirst = m.batchFirst === false;
  switch (m.head) {
    case 'final-state':
      return `logits = ${fc}(${m.bidirectional ? 'cat(h_n[-2], h_n[-1])' : 'h_n[-1]'})`;
    case 'last-step':
      return `logits = ${fc}(${seqFirst ? 'out[-1]' : 'out[:, -1]'})`;
    case 'mean':
      return `logits = ${fc}(out.mean(dim=${seqFirst ? 0 : 1}))`;
  }
}

/** The whole assumed forward, the recurrent call included: `out, (h_n, c_n) = lstm(x); logits = fc(out[:, -1])`. */
export function pytorchForward(m: ForwardShape): string {
  const rnn = m.prefixes.rnn.replace(/\.$/, '') || pytorchCellOf(m.kind).toLowerCase();
  return `out, ${m.kind === 'pytorch-lstm' ? '(h_n, c_n)' : 'h_n'} = ${rnn}(x); ${pytorchForwardLine(m)}`;
}

/** The one-line list of --head choices, for a model whose heads differ. */
export function pytorchHeadChoices(m: Omit<ForwardShape, 'kind' | 'head'>): string {
  const each = PYTORCH_HEADS.map((head) => `${head} (${pytorchForwardLine({ ...m, head }).replace('logits = ', '')})`);
  return `${each.slice(0, -1).join(', ')} or ${each[each.length - 1]!}`;
}

/**
 * The head of a loaded model: the declared one, else final-state where that is also last-step (unidirectional).
 * A bidirectional model without one is refused: its heads give different answers and the state_dict cannot tell.
 */
export function resolvePytorchHead(m: Omit<ForwardShape, 'head'>, head: PytorchHead | undefined, source: string): { head: PytorchHead; headDeclared: boolean } {
  if (head !== undefined) return { head, headDeclared: true };
  if (!m.bidirectional) return { head: 'final-state', headDeclared: false };
  throw new UserError(`${source}: a bidirectional nn.${pytorchCellOf(m.kind)}, whose heads give different answers and whose state_dict does not say which forward() uses: pass --head ${pytorchHeadChoices(m)}`);
}

export interface PytorchReadOptions {
  /** --head: what the Linear reads. */
  head?: PytorchHead | undefined;
  /** --nonlinearity: an nn.RNN's, when the file's __metadata__ does not say it (or to agree with it). */
  nonlinearity?: PytorchNonlinearity | undefined;
  /** --source: the kind the user says the file is; the file's cell must be that one. */
  kind?: PytorchKind | undefined;
}

/**
 * Reads an nn.GRU, nn.LSTM or nn.RNN + nn.Linear state_dict; the cell is the file's (detectPytorchCell). Every
 * tensor is accounted for: the layers l0..l{L−1} (with `_reverse` for all or none), and one Linear head whose
 * input is dirs·H. Anything else is refused by name.
 */
export function pytorchRecurrentFromSafetensors(file: SafetensorsFile, source: string, options: PytorchReadOptions = {}): PytorchRecurrent {
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`);
  };
  const names = [...file.tensors.keys()];
  const prefix = findPytorchRnnPrefix(names, source) ?? fail(`no '${PYTORCH_RNN_MARK}' tensor: not a PyTorch nn.GRU, nn.LSTM or nn.RNN state_dict (tensors: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''})`);
  const cell = detectPytorchCell(file, prefix, fail);
  const kind = PYTORCH_CELLS[cell].kind;
  const G = PYTORCH_CELLS[cell].gates;
  const [GH, inputSize] = file.tensors.get(`${prefix}${PYTORCH_RNN_MARK}`)!.shape as [number, number];
  const H = GH / G;
  const described = `'${prefix}weight_ih_l0' [${GH}, ${inputSize}]: ${G}·hidden rows`;
  if (options.kind !== undefined && options.kind !== kind) fail(`--source ${options.kind}, but the file holds an nn.${cell} (${described}); pass --source ${kind} or leave --source out`);
  const declaredCell = file.metadata.cell;
  if (declaredCell !== undefined && declaredCell.toUpperCase() !== cell) fail(`__metadata__ cell says ${declaredCell} but the tensors hold an nn.${cell} (${described})`);

  const used = new Set<string>();
  const take = (name: string, shape: number[] | undefined, optional = false): Float32Array | undefined => {
    const t = file.tensors.get(name);
    if (!t) return optional ? undefined : fail(`missing tensor '${name}'`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      fail(`tensor '${name}': shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) fail(`tensor '${name}': value ${t.data[i]} at flat index ${i} is not finite`);
    used.add(name);
    return t.data;
  };

  const bidirectional = file.tensors.has(`${prefix}weight_ih_l0_reverse`);
  const dirs = bidirectional ? 2 : 1;
  let numLayers = 0;
  while (file.tensors.has(`${prefix}weight_ih_l${numLayers}`)) numLayers++;
  const hasBias = file.tensors.has(`${prefix}bias_ih_l0`);

  const layers: PytorchLayer[] = [];
  for (let k = 0; k < numLayers; k++) {
    const layerInput = k === 0 ? inputSize : dirs * H;
    const directions: PytorchDirection[] = [];
    for (const suffix of bidirectional ? ['', '_reverse'] : ['']) {
      const n = (w: string) => `${prefix}${w}_l${k}${suffix}`;
      directions.push({
        wIh: take(n('weight_ih'), [G * H, layerInput])!,
        wHh: take(n('weight_hh'), [G * H, H])!,
        bIh: hasBias ? take(n('bias_ih'), [G * H])! : new Float32Array(G * H),
        bHh: hasBias ? take(n('bias_hh'), [G * H])! : new Float32Array(G * H),
      });
    }
    layers.push({ inputSize: layerInput, directions });
  }

  // The head: the one remaining weight (+ bias) pair.
  const rest = names.filter((n) => !used.has(n));
  const rnnLeft = rest.find((n) => n.startsWith(prefix) && /(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?$/.test(n));
  if (rnnLeft) fail(`tensor '${rnnLeft}' does not fit a ${numLayers}-layer ${bidirectional ? 'bidirectional' : 'unidirectional'} nn.${cell}${hasBias ? '' : ' without biases'}`);
  const headWeights = rest.filter((n) => n.endsWith('weight'));
  if (headWeights.length !== 1) {
    fail(headWeights.length === 0
      ? `no Linear head after the nn.${cell} (expected e.g. 'fc.weight' [output, ${dirs * H}])`
      : `more than one module after the nn.${cell} (${headWeights.join(', ')}); only nn.${cell} followed by one nn.Linear is supported`);
  }
  const head = headWeights[0]!.slice(0, -'weight'.length);
  const hw = file.tensors.get(`${head}weight`)!;
  const [O, headIn] = hw.shape;
  if (hw.shape.length !== 2 || O === undefined || O === 0 || headIn !== dirs * H) {
    fail(`tensor '${head}weight': shape [${hw.shape.join(', ')}] is not [output, ${dirs * H}] (the Linear reads the last layer's final state${bidirectional ? ', both directions' : ''})`);
  }
  const fc = { weight: take(`${head}weight`, [O!, dirs * H])!, bias: take(`${head}bias`, [O!], true) ?? new Float32Array(O!) };
  const extra = names.find((n) => !used.has(n));
  if (extra) fail(`unexpected tensor '${extra}' (expected an nn.${cell} '${prefix}*' and one nn.Linear '${head}weight'/'${head}bias')`);

  const declaredLayers = file.metadata.num_layers;
  if (declaredLayers !== undefined && declaredLayers !== String(numLayers)) fail(`__metadata__ num_layers says ${declaredLayers} but the tensors hold ${numLayers} layers`);
  const declaredBi = parseFlag(file.metadata, 'bidirectional', fail);
  if (declaredBi !== undefined && declaredBi !== bidirectional) fail(`__metadata__ bidirectional says ${declaredBi} but the tensors ${bidirectional ? 'have' : 'have no'} '_reverse' weights`);

  const batchFirst = parseFlag(file.metadata, 'batch_first', fail);
  const prefixes = { rnn: prefix, head };
  const common = {
    ...resolvePytorchHead({ kind, bidirectional, batchFirst, prefixes }, options.head, source),
    inputSize,
    hiddenSize: H,
    outputSize: O!,
    numLayers,
    bidirectional,
    batchFirst,
    layers,
    fc,
    prefixes,
  };
  if (kind !== 'pytorch-rnn') {
    if (options.nonlinearity !== undefined) fail(`--nonlinearity is for nn.RNN; this file holds an nn.${cell}, whose activations are fixed`);
    return { kind, ...common };
  }
  return { kind, nonlinearity: rnnNonlinearity(file.metadata.nonlinearity, options.nonlinearity, fail), ...common };
}

/** nn.RNN's nonlinearity: tanh and relu have the same weights, so the file's __metadata__ or --nonlinearity says it. */
function rnnNonlinearity(recorded: string | undefined, given: PytorchNonlinearity | undefined, fail: (msg: string) => never): PytorchNonlinearity {
  if (recorded !== undefined && !isPytorchNonlinearity(recorded)) fail(`__metadata__ nonlinearity is '${recorded}', not tanh or relu`);
  if (recorded !== undefined && given !== undefined && recorded !== given) fail(`--nonlinearity ${given}, but __metadata__ nonlinearity says ${recorded}`);
  const n = given ?? (recorded as PytorchNonlinearity | undefined);
  if (n === undefined) fail("an nn.RNN, whose state_dict does not say its nonlinearity (tanh and relu have the same weights) and whose __metadata__ has none: pass --nonlinearity tanh|relu (save_state_dict in python/gru_onnx_torch.py records it)");
  return n!;
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));
const relu = (a: number): number => (a > 0 ? a : 0);

/** v[j] = b[j] + Σ_i W[j, i] · u[i] for j < rows: every gate's pre-activation of one [rows, n] matrix. */
function affine(W: Float32Array, b: Float32Array, u: Float64Array, rows: number, n: number): Float64Array {
  const v = new Float64Array(rows);
  for (let j = 0; j < rows; j++) {
    let s = b[j]!;
    const at = j * n;
    for (let i = 0; i < n; i++) s += W[at + i]! * u[i]!;
    v[j] = s;
  }
  return v;
}

/** One step of the cell: h (and c, LSTM) → h', c'. `gx` = W_ih x + b_ih, `gh` = W_hh h + b_hh, gates stacked. */
function cellStep(m: PytorchRecurrent, gx: Float64Array, gh: Float64Array, h: Float64Array, c: Float64Array, H: number): { h: Float64Array; c: Float64Array } {
  const next = new Float64Array(H);
  switch (m.kind) {
    case 'pytorch-gru':
      for (let j = 0; j < H; j++) {
        const r = sigmoid(gx[j]! + gh[j]!);
        const z = sigmoid(gx[H + j]! + gh[H + j]!);
        const n = Math.tanh(gx[2 * H + j]! + r * gh[2 * H + j]!);
        next[j] = (1 - z) * n + z * h[j]!;
      }
      return { h: next, c };
    case 'pytorch-lstm': {
      const nextC = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gx[j]! + gh[j]!);
        const f = sigmoid(gx[H + j]! + gh[H + j]!);
        const g = Math.tanh(gx[2 * H + j]! + gh[2 * H + j]!);
        const o = sigmoid(gx[3 * H + j]! + gh[3 * H + j]!);
        nextC[j] = f * c[j]! + i * g;
        next[j] = o * Math.tanh(nextC[j]!);
      }
      return { h: next, c: nextC };
    }
    case 'pytorch-rnn': {
      const act = m.nonlinearity === 'relu' ? relu : Math.tanh;
      for (let j = 0; j < H; j++) next[j] = act(gx[j]! + gh[j]!);
      return { h: next, c };
    }
  }
}

/** One direction over a whole sequence from (h0, c0): every hidden state in input time order, and the final state. */
function runDirection(m: PytorchRecurrent, d: PytorchDirection, xs: Float64Array[], inSize: number, reverse: boolean, h0: Float64Array, c0: Float64Array) {
  const H = m.hiddenSize;
  const GH = d.bIh.length;
  const T = xs.length;
  const out: Float64Array[] = new Array<Float64Array>(T);
  let state = { h: h0, c: c0 };
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    state = cellStep(m, affine(d.wIh, d.bIh, xs[t]!, GH, inSize), affine(d.wHh, d.bHh, state.h, GH, H), state.h, state.c, H);
    out[t] = state.h;
  }
  return { out, hN: state.h, cN: state.c };
}

/**
 * The classifier's forward in float64, from PyTorch's own equations (see PytorchDirection). `x` is [batch, seq,
 * input] row-major whatever `batchFirst` says (transpose a [seq, batch, input] tensor first); `state.h0` (and
 * `state.c0`, LSTM) are PyTorch's h_0 layout [layers·dirs, batch, H], zeros when absent. Returns logits [batch, O]
 * (the Linear reads what `m.head` says), hiddenStates = out [batch, seq, dirs·H], hN (and cN) [layers·dirs, batch, H].
 * At seq 0 (PyTorch refuses it) h_n = h_0 and c_n = c_0: final-state reads h_0's last layer, last-step and mean
 * read zeros (no step exists; mean is the empty sum, not 0/0).
 */
export function pytorchRecurrentForward(m: PytorchRecurrent, x: ArrayLike<number>, batch: number, seq: number, state: SourceState = {}): SourceOutputs {
  const { inputSize: I, hiddenSize: H, outputSize: O } = m;
  const lstm = m.kind === 'pytorch-lstm';
  const dirs = m.bidirectional ? 2 : 1;
  const S = m.numLayers * dirs;
  const dirsH = dirs * H;
  if (x.length !== batch * seq * I) throw new RangeError(`x has ${x.length} values, expected ${batch}×${seq}×${I}`);
  if (state.h0 && state.h0.length !== S * batch * H) throw new RangeError(`h0 has ${state.h0.length} values, expected ${S}×${batch}×${H}`);
  if (state.c0 && !lstm) throw new RangeError(`c0 is for an nn.LSTM; this is an ${m.kind} model`);
  if (state.c0 && state.c0.length !== S * batch * H) throw new RangeError(`c0 has ${state.c0.length} values, expected ${S}×${batch}×${H}`);
  const slot = (v: ArrayLike<number> | undefined, s: number, b: number) => {
    const out = new Float64Array(H);
    if (v) for (let j = 0; j < H; j++) out[j] = v[(s * batch + b) * H + j]!;
    return out;
  };
  const logits = new Float64Array(batch * O);
  const hiddenStates = new Float64Array(batch * seq * dirsH);
  const hN = new Float64Array(S * batch * H);
  const cN = new Float64Array(lstm ? S * batch * H : 0);
  for (let b = 0; b < batch; b++) {
    let xs: Float64Array[] = [];
    for (let t = 0; t < seq; t++) xs.push(Float64Array.from({ length: I }, (_, i) => x[(b * seq + t) * I + i]!));
    m.layers.forEach((layer, k) => {
      const runs = layer.directions.map((d, r) => {
        const s = k * dirs + r;
        const run = runDirection(m, d, xs, layer.inputSize, r === 1, slot(state.h0, s, b), slot(state.c0, s, b));
        hN.set(run.hN, (s * batch + b) * H);
        if (lstm) cN.set(run.cN, (s * batch + b) * H);
        return run;
      });
      xs = xs.map((_, t) => {
        const cat = new Float64Array(dirsH);
        runs.forEach((run, r) => cat.set(run.out[t]!, r * H));
        return cat;
      });
    });
    xs.forEach((out, t) => hiddenStates.set(out, (b * seq + t) * dirsH));
    const features = new Float64Array(dirsH);
    if (m.head === 'final-state') {
      // h_n of the last layer, forward then reverse: cat(h_n[-2], h_n[-1]). At seq 0 it is h_0's.
      for (let r = 0; r < dirs; r++) features.set(hN.subarray((((m.numLayers - 1) * dirs + r) * batch + b) * H, (((m.numLayers - 1) * dirs + r) * batch + b + 1) * H), r * H);
    } else if (seq > 0 && m.head === 'last-step') {
      features.set(xs[seq - 1]!);
    } else if (seq > 0) {
      for (const out of xs) for (let j = 0; j < dirsH; j++) features[j] = features[j]! + out[j]!;
      for (let j = 0; j < dirsH; j++) features[j] = features[j]! / seq;
    }
    logits.set(affine(m.fc.weight, m.fc.bias, features, O, dirsH), b * O);
  }
  // Batch 0 or seq 0: h_n = h_0 and c_n = c_0 (no step ran); the loop above already copied them per batch row.
  return lstm ? { logits, hiddenStates, hN, cN } : { logits, hiddenStates, hN };
}
