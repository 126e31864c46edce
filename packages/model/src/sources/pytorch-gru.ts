import { UserError } from '../errors.ts';
import type { SafetensorsFile } from '../safetensors.ts';

/**
 * A PyTorch `nn.GRU` classifier: `nn.GRU(input, hidden, num_layers, bidirectional, batch_first)` followed by an
 * `nn.Linear` head. Which GRU output the Linear reads is in forward(), not in the state_dict: see PytorchHead.
 *
 * PyTorch's cell, gates stacked r, z, n in every [3H, ·] tensor:
 *
 *   r  = σ(W_ir x + b_ir + W_hr h + b_hr)       z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 *   h' = (1 − z) ⊙ n + z ⊙ h
 */
export interface PytorchGruDirection {
  /** weight_ih_l{k}[_reverse]: [3H, layer input], gates r, z, n. */
  wIh: Float32Array;
  /** weight_hh_l{k}[_reverse]: [3H, H]. */
  wHh: Float32Array;
  /** bias_ih_l{k}[_reverse]: [3H] (zeros when the GRU has bias=False). */
  bIh: Float32Array;
  /** bias_hh_l{k}[_reverse]: [3H]. */
  bHh: Float32Array;
}

export interface PytorchGruLayer {
  /** input size for layer 0, dirs·H above it. */
  inputSize: number;
  /** [forward] or [forward, reverse]. */
  directions: PytorchGruDirection[];
}

/**
 * What the Linear reads, with out, h_n = gru(x) and out [batch, seq, dirs·H] (batch_first):
 * - `final-state`: the last layer's final hidden state, both directions: fc(h_n[-1]), fc(cat(h_n[-2], h_n[-1]));
 * - `last-step`: the output at the last time step, fc(out[:, -1]);
 * - `mean`: the outputs averaged over time, fc(out.mean(dim=1)).
 * Unidirectional, final-state and last-step are the same numbers; bidirectional they are not, because the reverse
 * direction's final state is its output at t = 0. At seq 0 (PyTorch's GRU refuses it) every head reads zeros, the
 * initial state, so logits = fc(0): for mean, the empty sum over zero steps, not 0/0.
 */
export const PYTORCH_HEADS = ['final-state', 'last-step', 'mean'] as const;
export type PytorchHead = (typeof PYTORCH_HEADS)[number];

export function isPytorchHead(s: string): s is PytorchHead {
  return (PYTORCH_HEADS as readonly string[]).includes(s);
}

export interface PytorchGru {
  kind: 'pytorch-gru';
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
  layers: PytorchGruLayer[];
  /** The head: weight [O, dirs·H], bias [O] (zeros when the Linear has bias=False). */
  fc: { weight: Float32Array; bias: Float32Array };
  /** State-dict name prefixes, for messages: e.g. 'gru.' and 'fc.'. */
  prefixes: { gru: string; head: string };
}

/** Names ending like this mark an nn.GRU state_dict; what precedes is the module's prefix ('gru.', 'rnn.', ''). */
export const PYTORCH_GRU_MARK = 'weight_ih_l0';

/** The prefix of the nn.GRU module in a state_dict, or undefined when it holds none. */
export function findPytorchGruPrefix(names: Iterable<string>): string | undefined {
  const prefixes = [...names].filter((n) => n.endsWith(PYTORCH_GRU_MARK)).map((n) => n.slice(0, -PYTORCH_GRU_MARK.length));
  if (prefixes.length > 1) throw new UserError(`found ${prefixes.length} GRU modules (${prefixes.map((p) => `${p}${PYTORCH_GRU_MARK}`).join(', ')}); only one nn.GRU followed by one nn.Linear is supported`);
  return prefixes[0];
}

function parseFlag(meta: Record<string, string>, key: string, fail: (msg: string) => never): boolean | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return fail(`__metadata__ ${key} is '${v}', not true or false`);
}

/** The forward a head stands for, in the model's own module names: `logits = fc(cat(h_n[-2], h_n[-1]))`. */
export function pytorchForwardLine(m: Pick<PytorchGru, 'head' | 'bidirectional' | 'batchFirst' | 'prefixes'>): string {
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

/** The whole assumed forward, GRU call included: `out, h_n = rnn(x); logits = head(out[:, -1])`. */
export function pytorchForward(m: Pick<PytorchGru, 'head' | 'bidirectional' | 'batchFirst' | 'prefixes'>): string {
  return `out, h_n = ${m.prefixes.gru.replace(/\.$/, '') || 'gru'}(x); ${pytorchForwardLine(m)}`;
}

/** The one-line list of --head choices, for a model whose heads differ. */
export function pytorchHeadChoices(m: Pick<PytorchGru, 'bidirectional' | 'batchFirst' | 'prefixes'>): string {
  const each = PYTORCH_HEADS.map((head) => `${head} (${pytorchForwardLine({ ...m, head }).replace('logits = ', '')})`);
  return `${each.slice(0, -1).join(', ')} or ${each[each.length - 1]!}`;
}

/**
 * The head of a loaded model: the declared one, else final-state where that is also last-step (unidirectional).
 * A bidirectional model without one is refused: its heads give different answers and the state_dict cannot tell.
 */
export function resolvePytorchHead(m: Pick<PytorchGru, 'bidirectional' | 'batchFirst' | 'prefixes'>, head: PytorchHead | undefined, source: string): { head: PytorchHead; headDeclared: boolean } {
  if (head !== undefined) return { head, headDeclared: true };
  if (!m.bidirectional) return { head: 'final-state', headDeclared: false };
  throw new UserError(`${source}: a bidirectional nn.GRU, whose heads give different answers and whose state_dict does not say which forward() uses: pass --head ${pytorchHeadChoices(m)}`);
}

/**
 * Reads an nn.GRU + nn.Linear state_dict. Every tensor is accounted for: the GRU's layers l0..l{L−1} (with
 * `_reverse` for all or none), and one Linear head whose input is dirs·H. Anything else is refused by name.
 */
export function pytorchGruFromSafetensors(file: SafetensorsFile, source: string, declaredHead?: PytorchHead): PytorchGru {
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`);
  };
  const names = [...file.tensors.keys()];
  const prefix = findPytorchGruPrefix(names) ?? fail(`no '${PYTORCH_GRU_MARK}' tensor: not a PyTorch nn.GRU state_dict (tensors: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''})`);
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

  const first = file.tensors.get(`${prefix}${PYTORCH_GRU_MARK}`)!;
  const [threeH, inputSize] = first.shape;
  // nn.LSTM and nn.RNN state_dicts use the same names; the gate count (rows per hidden unit) tells the cell.
  const hh = file.tensors.get(`${prefix}weight_hh_l0`);
  const [hhRows, hhCols] = hh?.shape ?? [];
  if (hh?.shape.length === 2 && hhCols && hhRows !== undefined && hhRows === first.shape[0] && hhRows % hhCols === 0 && hhRows / hhCols !== 3) {
    const cell = { 1: 'nn.RNN (1·hidden rows)', 4: 'nn.LSTM (4·hidden rows: gates i, f, g, o)' }[hhRows / hhCols] ?? `a cell with ${hhRows / hhCols}·hidden rows`;
    fail(`'${prefix}weight_hh_l0' is [${hh.shape.join(', ')}]: ${cell}, not nn.GRU (3·hidden rows); only GRU cells are supported`);
  }
  if (first.shape.length !== 2 || threeH === undefined || inputSize === undefined || threeH % 3 !== 0 || threeH === 0 || inputSize === 0) {
    fail(`tensor '${prefix}${PYTORCH_GRU_MARK}': shape [${first.shape.join(', ')}] is not [3·hidden, input]`);
  }
  const H = threeH! / 3;
  const bidirectional = file.tensors.has(`${prefix}weight_ih_l0_reverse`);
  const dirs = bidirectional ? 2 : 1;
  let numLayers = 0;
  while (file.tensors.has(`${prefix}weight_ih_l${numLayers}`)) numLayers++;
  const hasBias = file.tensors.has(`${prefix}bias_ih_l0`);

  const layers: PytorchGruLayer[] = [];
  for (let k = 0; k < numLayers; k++) {
    const layerInput = k === 0 ? inputSize! : dirs * H;
    const directions: PytorchGruDirection[] = [];
    for (const suffix of bidirectional ? ['', '_reverse'] : ['']) {
      const n = (w: string) => `${prefix}${w}_l${k}${suffix}`;
      directions.push({
        wIh: take(n('weight_ih'), [3 * H, layerInput])!,
        wHh: take(n('weight_hh'), [3 * H, H])!,
        bIh: hasBias ? take(n('bias_ih'), [3 * H])! : new Float32Array(3 * H),
        bHh: hasBias ? take(n('bias_hh'), [3 * H])! : new Float32Array(3 * H),
      });
    }
    layers.push({ inputSize: layerInput, directions });
  }

  // The head: the one remaining weight (+ bias) pair.
  const rest = names.filter((n) => !used.has(n));
  const gruLeft = rest.find((n) => n.startsWith(prefix) && /(weight|bias)_(ih|hh)_l\d+(_reverse)?$/.test(n));
  if (gruLeft) fail(`tensor '${gruLeft}' does not fit a ${numLayers}-layer ${bidirectional ? 'bidirectional' : 'unidirectional'} GRU${hasBias ? '' : ' without biases'}`);
  const headWeights = rest.filter((n) => n.endsWith('weight'));
  if (headWeights.length !== 1) {
    fail(headWeights.length === 0
      ? `no Linear head after the GRU (expected e.g. 'fc.weight' [output, ${dirs * H}])`
      : `more than one module after the GRU (${headWeights.join(', ')}); only nn.GRU followed by one nn.Linear is supported`);
  }
  const head = headWeights[0]!.slice(0, -'weight'.length);
  const hw = file.tensors.get(`${head}weight`)!;
  const [O, headIn] = hw.shape;
  if (hw.shape.length !== 2 || O === undefined || O === 0 || headIn !== dirs * H) {
    fail(`tensor '${head}weight': shape [${hw.shape.join(', ')}] is not [output, ${dirs * H}] (the Linear reads the last layer's final state${bidirectional ? ', both directions' : ''})`);
  }
  const fc = { weight: take(`${head}weight`, [O!, dirs * H])!, bias: take(`${head}bias`, [O!], true) ?? new Float32Array(O!) };
  const extra = names.find((n) => !used.has(n));
  if (extra) fail(`unexpected tensor '${extra}' (expected an nn.GRU '${prefix}*' and one nn.Linear '${head}weight'/'${head}bias')`);

  const declaredLayers = file.metadata.num_layers;
  if (declaredLayers !== undefined && declaredLayers !== String(numLayers)) fail(`__metadata__ num_layers says ${declaredLayers} but the tensors hold ${numLayers} layers`);
  const declaredBi = parseFlag(file.metadata, 'bidirectional', fail);
  if (declaredBi !== undefined && declaredBi !== bidirectional) fail(`__metadata__ bidirectional says ${declaredBi} but the tensors ${bidirectional ? 'have' : 'have no'} '_reverse' weights`);

  const batchFirst = parseFlag(file.metadata, 'batch_first', fail);
  const prefixes = { gru: prefix, head };
  return {
    kind: 'pytorch-gru',
    ...resolvePytorchHead({ bidirectional, batchFirst, prefixes }, declaredHead, source),
    inputSize: inputSize!,
    hiddenSize: H,
    outputSize: O!,
    numLayers,
    bidirectional,
    batchFirst,
    layers,
    fc,
    prefixes,
  };
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** v[j] = b[row0 + j] + Σ_i W[row0 + j, i] · u[i] for j < rows: one gate's block of a [3H, n] matrix. */
function gateBlock(W: Float32Array, b: Float32Array, u: Float64Array, row0: number, rows: number, n: number): Float64Array {
  const v = new Float64Array(rows);
  for (let j = 0; j < rows; j++) {
    let s = b[row0 + j]!;
    const at = (row0 + j) * n;
    for (let i = 0; i < n; i++) s += W[at + i]! * u[i]!;
    v[j] = s;
  }
  return v;
}

/** One direction over a whole sequence: every hidden state, in input time order. */
function runDirection(d: PytorchGruDirection, xs: Float64Array[], H: number, inSize: number, reverse: boolean): Float64Array[] {
  const T = xs.length;
  const out: Float64Array[] = new Array<Float64Array>(T);
  let h = new Float64Array(H);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const x = xs[t]!;
    const xR = gateBlock(d.wIh, d.bIh, x, 0, H, inSize);
    const xZ = gateBlock(d.wIh, d.bIh, x, H, H, inSize);
    const xN = gateBlock(d.wIh, d.bIh, x, 2 * H, H, inSize);
    const hR = gateBlock(d.wHh, d.bHh, h, 0, H, H);
    const hZ = gateBlock(d.wHh, d.bHh, h, H, H, H);
    const hN = gateBlock(d.wHh, d.bHh, h, 2 * H, H, H);
    const next = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      const r = sigmoid(xR[j]! + hR[j]!);
      const z = sigmoid(xZ[j]! + hZ[j]!);
      const n = Math.tanh(xN[j]! + r * hN[j]!);
      next[j] = (1 - z) * n + z * h[j]!;
    }
    h = next;
    out[t] = h;
  }
  return out;
}

/**
 * The classifier's forward in float64. `x` is [batch, seq, input] row-major whatever `batchFirst` says (transpose
 * a [seq, batch, input] tensor first). Returns logits [batch, output]; the Linear reads what `m.head` says.
 */
export function pytorchGruForward(m: PytorchGru, x: ArrayLike<number>, batch: number, seq: number): { logits: Float64Array } {
  const { inputSize: I, hiddenSize: H, outputSize: O } = m;
  if (x.length !== batch * seq * I) throw new RangeError(`x has ${x.length} values, expected ${batch}×${seq}×${I}`);
  const dirsH = m.layers[0]!.directions.length * H;
  const logits = new Float64Array(batch * O);
  for (let b = 0; b < batch; b++) {
    let xs: Float64Array[] = [];
    for (let t = 0; t < seq; t++) xs.push(Float64Array.from({ length: I }, (_, i) => x[(b * seq + t) * I + i]!));
    // At seq 0 every head reads the zero initial state (see PytorchHead).
    const features = new Float64Array(dirsH);
    let outs: Float64Array[][] = [];
    for (const layer of m.layers) {
      outs = layer.directions.map((d, k) => runDirection(d, xs, H, layer.inputSize, k === 1));
      xs = xs.map((_, t) => {
        const cat = new Float64Array(dirsH);
        outs.forEach((o, k) => cat.set(o[t]!, k * H));
        return cat;
      });
    }
    if (seq > 0) {
      if (m.head === 'final-state') {
        // h_n: the forward direction ends at t = T−1, the reverse one at t = 0.
        outs.forEach((o, k) => features.set(o[k === 0 ? seq - 1 : 0]!, k * H));
      } else if (m.head === 'last-step') {
        features.set(xs[seq - 1]!);
      } else {
        for (const out of xs) for (let j = 0; j < dirsH; j++) features[j] = features[j]! + out[j]!;
        for (let j = 0; j < dirsH; j++) features[j] = features[j]! / seq;
      }
    }
    logits.set(gateBlock(m.fc.weight, m.fc.bias, features, 0, O, dirsH), b * O);
  }
  return { logits };
}
