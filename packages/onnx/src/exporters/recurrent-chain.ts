/**
 * The graph every imported classifier becomes: x [batch, seq, input] → one recurrent layer after another (GRU,
 * LSTM or RNN, each forward or bidirectional) → what the head reads of the last layer (its final state, its output
 * at the last step, or its outputs' mean over time; both directions) → Gemm → `logits` [batch, output], or Gemm →
 * Softmax → `probabilities`. Optional graph I/O, in PyTorch's layouts: inputs `h0` [S, batch, H] and `c0`
 * [S_lstm, batch, H], outputs `hidden_states` [batch, seq, dirs·H], `h_n` [S, batch, H] and `c_n` [S_lstm, batch, H],
 * S counting every layer's directions, layer-major, forward then reverse.
 *
 * The ONNX recurrent nodes read X as [seq, batch, input] and write Y [seq, dirs, batch, H], Y_h (and LSTM's Y_c)
 * [dirs, batch, H]; between layers Y becomes [seq, batch, dirs·H] (forward then reverse features, as PyTorch and
 * tfjs concatenate them).
 *
 * Forms, layer by layer: `fused` is one such node; `scan` the same equations from primitive ops (scan-cells.ts);
 * `auto` either, or an If on the batch between them, from a measured table per target and cell
 * (AUTO_SCAN_FROM_WORK, cudnnRunsLayer). Every form sits behind the empty-x guard (ifEmptyX): an empty x never
 * reaches a layer, and gives the contract's seq-0 / batch-0 outputs (writeEmpty).
 */
import type { PytorchHead } from '@gru-onnx/model';
import { UserError } from '@gru-onnx/model';
import { allNodes, assertGruOpset, attr, encodeModel, makeGraph, makeModel, makeValueInfo } from '../builder.ts';
import type { AttributeValue, Dim } from '../builder.ts';
import { assertValidModel } from '../checker.ts';
import { DEFAULT_OPSET, EXPORT_FORMS, EXPORT_TARGETS } from '../export-seed.ts';
import type { ExportForm, ExportTarget } from '../export-seed.ts';
import type { onnx } from '../proto.ts';
import { ifEmptyX, lessThan, mainGraph, Scope, zerosState } from '../scope.ts';
import { CELL_GATES, layerActivations, writeScanLayer } from './scan-cells.ts';

export type OnnxCell = 'GRU' | 'LSTM' | 'RNN';

export { CELL_GATES } from './scan-cells.ts';

export interface OnnxRecurrentLayer {
  cell: OnnxCell;
  inputSize: number;
  hiddenSize: number;
  dirs: 1 | 2;
  /** [dirs, G·H, inputSize], ONNX gate order: GRU z,r,h (G=3); LSTM i,o,f,c (G=4); RNN one block (G=1). */
  W: Float32Array;
  /** [dirs, G·H, H] */
  R: Float32Array;
  /** [dirs, 2·G·H] = [Wb, Rb] per direction. */
  B: Float32Array;
  /** GRU only. */
  linearBeforeReset?: 0 | 1;
  /**
   * ONNX activation names for ONE direction (repeated for the reverse by the writer), with alpha/beta where the
   * function takes them, e.g. LSTM ['HardSigmoid','Tanh','Tanh'], RNN ['Relu']. Omitted: ONNX's defaults.
   */
  activations?: { names: string[]; alpha: number[]; beta: number[] };
}

export interface RecurrentChain {
  name: string;
  inputSize: number;
  layers: OnnxRecurrentLayer[];
  /** logits = h_last · Wᵀ + b with weight [O, dirs·H] (transB), or h_last · W + b with weight [dirs·H, O]. */
  head: { weight: Float32Array; bias: Float32Array; outputSize: number; transB: boolean; softmax: boolean };
  /** What h_last is (PytorchHead): the last layer's final state, its output at the last step, or their mean over time. */
  reads: PytorchHead;
  docString: string;
  metadata: Record<string, string>;
}

/** The same meaning as the seed's ExportOptions; h0/h_n in the chain's [S, batch, H] layout. */
export interface ChainExportOptions {
  /** Default 'auto'. */
  form?: ExportForm;
  /** Default 'cpu'; `auto` chooses its form for it. */
  target?: ExportTarget;
  /** Default-domain opset, 7 to 21; default DEFAULT_OPSET (17), as for the seed. */
  opset?: number;
  /** Output `hidden_states` [batch, seq, dirs·H]: the last layer's outputs at every step. */
  hiddenStates?: boolean;
  /** Outputs `h_n` [S, batch, H] (and `c_n` [S_lstm, batch, H] with LSTM layers). */
  hN?: boolean;
  /** Inputs `h0` [S, batch, H] (and `c0` [S_lstm, batch, H] with LSTM layers); zeros without. */
  h0?: boolean;
  /** Extra metadata_props, e.g. the source file's SHA-256. */
  metadata?: Readonly<Record<string, string>>;
}

/** What the graph's inputs and outputs are, beyond x and the head's output. */
interface Want {
  hiddenStates: boolean;
  hN: boolean;
  h0: boolean;
}

/** State slots: S (every layer's directions) and S_lstm (the LSTM layers' only), and each layer's first slot in them. */
interface Slots {
  S: number;
  lstmS: number;
  hOffset: number[];
  cOffset: number[];
  /** The one hidden size of every layer, when they share it (needed for h0 and h_n). */
  H: number | undefined;
}

function slotsOf(layers: readonly OnnxRecurrentLayer[]): Slots {
  let S = 0;
  let lstmS = 0;
  const hOffset: number[] = [];
  const cOffset: number[] = [];
  for (const l of layers) {
    hOffset.push(S);
    cOffset.push(lstmS);
    S += l.dirs;
    if (l.cell === 'LSTM') lstmS += l.dirs;
  }
  const H = layers.every((l) => l.hiddenSize === layers[0]!.hiddenSize) ? layers[0]!.hiddenSize : undefined;
  return { S, lstmS, hOffset, cOffset, H };
}

/** One layer's results in the scope it was written into. */
export interface LayerOut {
  /** [seq, batch, dirs·H], when asked for. */
  Y?: string;
  /** [dirs, batch, H] */
  Yh: string;
  /** [dirs, batch, H], LSTM layers when asked for. */
  Yc?: string;
}

/** What a layer writer gets: the layer's input [seq, batch, in] and its initial states [dirs, batch, H] if given. */
export interface LayerIn {
  X: string;
  h0?: string;
  c0?: string;
  needY: boolean;
  needYc: boolean;
}

type LayerWriter = (s: Scope, l: OnnxRecurrentLayer, k: number, input: LayerIn, opset: number) => LayerOut;

/** The ONNX attributes of a layer's node; activations (and their alpha/beta) repeated for the reverse direction. */
export function nodeAttributes(l: OnnxRecurrentLayer): Record<string, AttributeValue> {
  const a: Record<string, AttributeValue> = {
    direction: attr.string(l.dirs === 2 ? 'bidirectional' : 'forward'),
    hidden_size: attr.int(l.hiddenSize),
  };
  if (l.cell === 'GRU') a.linear_before_reset = attr.int(l.linearBeforeReset ?? 0);
  if (l.activations) {
    const twice = <T>(v: T[]) => (l.dirs === 2 ? [...v, ...v] : v);
    a.activations = attr.strings(twice(l.activations.names));
    if (l.activations.alpha.length > 0) a.activation_alpha = attr.floats(twice(l.activations.alpha));
    if (l.activations.beta.length > 0) a.activation_beta = attr.floats(twice(l.activations.beta));
  }
  return a;
}

/** fused: one ONNX GRU/LSTM/RNN node for the layer. */
const writeFusedLayer: LayerWriter = (s, l, k, { X, h0, c0, needY, needYc }) => {
  const G = CELL_GATES[l.cell];
  const H = l.hiddenSize;
  const inputs = [
    X,
    s.float(`W_l${k}`, [l.dirs, G * H, l.inputSize], l.W),
    s.float(`R_l${k}`, [l.dirs, G * H, H], l.R),
    s.float(`B_l${k}`, [l.dirs, 2 * G * H], l.B),
    '',
    h0 ?? '',
    ...(l.cell === 'LSTM' ? [c0 ?? ''] : []),
  ];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const Y = needY ? `${s.prefix}Y_l${k}` : '';
  const Yh = `${s.prefix}Y_h_l${k}`;
  const Yc = needYc ? `${s.prefix}Y_c_l${k}` : undefined;
  s.node(l.cell, inputs, Yc ? [Y, Yh, Yc] : [Y, Yh], nodeAttributes(l));
  if (!needY) return { Yh, Yc };
  // [seq, dirs, batch, H] → [seq, batch, dirs, H] → [seq, batch, dirs·H]
  const t = s.node('Transpose', [Y], [`${s.prefix}Y_l${k}_seq_batch_dirs`], { perm: attr.ints([0, 2, 1, 3]) });
  const flat = s.node('Reshape', [t, s.int64(`${s.prefix}shape_l${k}_seq_batch_features`, [3], [0, 0, l.dirs * H])], [`${s.prefix}out_l${k}`]);
  return { Y: flat, Yh, Yc };
};

/** What auto's table keys a layer by: its cell, and for a GRU its linear_before_reset. */
export type AutoCellKey = 'GRU lbr 0' | 'GRU lbr 1' | 'LSTM' | 'RNN';

export function autoCellKey(l: OnnxRecurrentLayer): AutoCellKey {
  return l.cell === 'GRU' ? `GRU lbr ${l.linearBeforeReset ?? 0}` : l.cell;
}

/**
 * auto's table: for each target and cell, the work per step, batch × hidden, from which a layer runs as the scan
 * form rather than the fused node (0: always the scan, Infinity: always the fused node): the scan pays a fixed cost
 * per kernel per step, so it wins once each step's products are large enough. Measured with onnxruntime-node 1.29's
 * CPU EP, one thread, two bidirectional layers, process CPU time of a run (the machine was shared), best of 3–5, the
 * forms interleaved; scan / fused:
 *   GRU   hidden 32, seq 50:  batch 8 2.0, 64 0.83          hidden 64, seq 50:  batch 16 1.14, 32 0.92
 *         hidden 256, seq 100: batch 1 1.16–1.24, 4 0.98–1.02, 16 0.94–0.95, 64 0.88–0.90 (linear_before_reset 0 and 1 alike)
 *   RNN   hidden 32: batch 1 1.74, 8 0.42;  hidden 64: batch 1 1.14, 4 0.49;  hidden 256: batch 1 0.67
 *   LSTM  hidden 64: batch 64 1.07, 256 1.00;  hidden 128: batch 128 1.00, 256 1.03;  hidden 256: batch 64 1.01
 * so GRU switches at batch × hidden 2048, RNN at 256 (onnxruntime's RNN kernel is slower than a Gemm and a Tanh per
 * step), and LSTM keeps the fused node (the scan never wins by more than noise). wasm runs the same CPU kernels
 * compiled to WebAssembly, and the JSEP WebGPU backend has no recurrent kernels (the fused node runs on its CPU
 * fallback), so both take the CPU row; neither was measured here.
 */
export const AUTO_SCAN_FROM_WORK: Readonly<Record<Exclude<ExportTarget, 'cuda'>, Readonly<Record<AutoCellKey, number>>>> = (() => {
  const cpu = { 'GRU lbr 0': 2048, 'GRU lbr 1': 2048, LSTM: Infinity, RNN: 256 };
  return { cpu, wasm: cpu, webgpu: cpu };
})();

/**
 * Whether onnxruntime's CUDA EP runs this layer's fused node on the GPU (cuDNN). From its documented kernel
 * support (cuda_execution_provider.cc, RNNNeedFallbackToCPU), not measured here (no GPU): a node with
 * activation_alpha/beta or non-default activations, a GRU with linear_before_reset 0, or an RNN with other than
 * Tanh falls back to the CPU EP; the scan's primitive ops all have CUDA kernels.
 */
export function cudnnRunsLayer(l: OnnxRecurrentLayer): boolean {
  return hasDefaultActivations(l) && (l.cell !== 'GRU' || l.linearBeforeReset === 1);
}

/** Whether the layer's activations are ONNX's defaults for its cell (none given, or the same names without alpha/beta). */
function hasDefaultActivations(l: OnnxRecurrentLayer): boolean {
  const defaults = l.cell === 'GRU' ? ['sigmoid', 'tanh'] : l.cell === 'LSTM' ? ['sigmoid', 'tanh', 'tanh'] : ['tanh'];
  const a = l.activations;
  return !a || (a.alpha.length === 0 && a.beta.length === 0 && a.names.every((n, i) => n.toLowerCase() === defaults[i % defaults.length]));
}

/**
 * Whether onnxruntime-web's native WebGPU EP (1.30) can run the layer's fused node. Its GRU and LSTM kernels take
 * only the default activations: a GRU with others (tfjs's HardSigmoid) fails the session's creation, an LSTM fails
 * at run ("Unsupported LSTM activation for WebGPU: HardSigmoid"; measured on SwiftShader, docs/gpu-placement.md).
 */
export function webgpuRunsFusedLayer(l: OnnxRecurrentLayer): boolean {
  return l.cell === 'RNN' || hasDefaultActivations(l);
}

/** The recurrent nodes of a model that onnxruntime's CUDA EP leaves to the CPU EP ({@link cudnnRunsLayer}), by name. */
export function cudaFallbackNodes(model: onnx.IModelProto): string[] {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return allNodes(model.graph ?? {}).filter((n) => {
    if (n.opType !== 'GRU' && n.opType !== 'LSTM' && n.opType !== 'RNN') return false;
    const a = Object.fromEntries((n.attribute ?? []).map((x) => [x.name, x]));
    return !cudnnRunsLayer({
      cell: n.opType, inputSize: 0, hiddenSize: 0, dirs: 1, W: new Float32Array(0), R: new Float32Array(0), B: new Float32Array(0),
      linearBeforeReset: Number(a.linear_before_reset?.i ?? 0) === 1 ? 1 : 0,
      activations: a.activations ? { names: (a.activations.strings ?? []).map(text), alpha: a.activation_alpha?.floats ?? [], beta: a.activation_beta?.floats ?? [] } : undefined,
    });
  }).map((n) => `${n.opType} ${n.name ?? ''}`.trim());
}

/** The batch from which auto runs layer l as the scan form for `target` (0: always, Infinity: never). */
export function autoScanFromBatch(l: OnnxRecurrentLayer, target: ExportTarget): number {
  if (target === 'cuda') return cudnnRunsLayer(l) ? Infinity : 0;
  // Such a layer is the scan form. An LSTM's is written from batch 1, i.e. always, yet behind auto's If: JSEP
  // computes a bare multi-layer scan chain wrong and the same scan inside an If right, and the fused branch, never
  // taken, is harmless there. A GRU's fused node fails the session even in a branch never taken: a bare scan.
  if (target === 'webgpu' && !webgpuRunsFusedLayer(l)) return l.cell === 'LSTM' ? 1 : 0;
  const work = AUTO_SCAN_FROM_WORK[target][autoCellKey(l)];
  const batch = Math.ceil(work / l.hiddenSize);
  // Every batch that reaches the layers is ≥ 1.
  return batch <= 1 ? 0 : batch;
}

/** auto for one layer: If(batch < T) the fused node, else the scan form; x is not empty here. */
function autoLayer(T: number): LayerWriter {
  return (s, l, k, input, opset) => {
    const p = `${s.prefix}l${k}_auto_`;
    const shape = s.node('Shape', ['x'], [`${p}x_shape`]);
    const batch = s.node('Gather', [shape, s.int64(`${p}index_0`, [1], [0])], [`${p}batch_1d`], { axis: attr.int(0) });
    const useFused = lessThan(s, opset, batch, `${p}threshold`, [1], T, `${p}use_fused`);
    const H = l.hiddenSize;
    const names = { Y: `${p}Y`, Yh: `${p}Y_h`, Yc: `${p}Y_c` };
    const branch = (name: string, write: LayerWriter) => {
      const b = s.child(`${p}${name}_`);
      const out = write(b, l, k, input, opset);
      const outs = [
        ...(out.Y ? [makeValueInfo(out.Y, 'float32', ['seq', 'batch', l.dirs * H])] : []),
        makeValueInfo(out.Yh, 'float32', [l.dirs, 'batch', H]),
        ...(out.Yc ? [makeValueInfo(out.Yc, 'float32', [l.dirs, 'batch', H])] : []),
      ];
      return attr.graph(makeGraph({ name: `${p}${name}`, nodes: b.nodes, inputs: [], outputs: outs, docString: `Layer ${k}, ${name} form.` }));
    };
    const thenBranch = branch('fused', writeFusedLayer);
    const elseBranch = branch('scan', writeScanLayer);
    const outNames = [...(input.needY ? [names.Y] : []), names.Yh, ...(input.needYc ? [names.Yc] : [])];
    s.node('If', [useFused], outNames, { then_branch: thenBranch, else_branch: elseBranch });
    return { Y: input.needY ? names.Y : undefined, Yh: names.Yh, Yc: input.needYc ? names.Yc : undefined };
  };
}

/** What auto builds for a chain and target: 'auto' where some layer switches on the batch or the layers differ. */
export function autoForm(c: RecurrentChain, target: ExportTarget): ExportForm {
  return planLayers(c, 'auto', target).built;
}

/** Each layer's writer for the form asked for, and what the file records as built. */
function planLayers(c: RecurrentChain, form: ExportForm, target: ExportTarget): { writers: LayerWriter[]; built: ExportForm; rule?: string } {
  if (form !== 'auto') return { writers: c.layers.map(() => (form === 'fused' ? writeFusedLayer : writeScanLayer)), built: form };
  const T = c.layers.map((l) => autoScanFromBatch(l, target));
  const writers = T.map((t) => (t === 0 ? writeScanLayer : t === Infinity ? writeFusedLayer : autoLayer(t)));
  const built: ExportForm = T.every((t) => t === 0) ? 'scan' : T.every((t) => t === Infinity) ? 'fused' : 'auto';
  const rule = c.layers.map((l, k) => `layer ${k} ${autoCellKey(l)}: ${T[k] === 0 ? 'scan' : T[k] === Infinity ? 'fused' : `fused below batch ${T[k]}, scan from ${T[k]}`}`).join('; ');
  return { writers, built, rule };
}

/** Builds, checks and returns the chain's model. */
export function buildRecurrentChain(c: RecurrentChain, options: ChainExportOptions = {}): onnx.ModelProto {
  const opset = options.opset ?? DEFAULT_OPSET;
  assertGruOpset(opset, 'these');
  const form = options.form ?? 'auto';
  if (!EXPORT_FORMS.includes(form)) throw new UserError(`form '${String(form)}' is not one of ${EXPORT_FORMS.join(', ')}`);
  const target = options.target ?? 'cpu';
  if (!EXPORT_TARGETS.includes(target)) throw new UserError(`target '${String(target)}' is not one of ${EXPORT_TARGETS.join(', ')}`);
  if (c.layers.length === 0) throw new Error(`${c.name}: no recurrent layers`);
  c.layers.forEach((l, k) => {
    const expected = k === 0 ? c.inputSize : c.layers[k - 1]!.dirs * c.layers[k - 1]!.hiddenSize;
    if (l.inputSize !== expected) throw new Error(`${c.name}: layer ${k} reads ${l.inputSize} features, the one before gives ${expected}`);
  });
  c.layers.forEach((l, k) => layerActivations(l, `${c.name} layer ${k}`));
  const { writers, built, rule } = planLayers(c, form, target);
  const want: Want = { hiddenStates: !!options.hiddenStates, hN: !!options.hN, h0: !!options.h0 };
  const slots = slotsOf(c.layers);
  if ((want.h0 || want.hN) && slots.H === undefined) {
    const sizes = c.layers.map((l) => l.hiddenSize).join(', ');
    throw new UserError(`--h0 and --h-n need every recurrent layer to have the same hidden size; this model's are ${sizes}`);
  }
  const hasLstm = slots.lstmS > 0;
  const top = c.layers[c.layers.length - 1]!;
  const dirsH = top.dirs * top.hiddenSize;
  const H = slots.H ?? 0;

  const s = new Scope('');
  const outputs: { name: string; dims: Dim[] }[] = [{ name: 'h_last', dims: ['batch', dirsH] }];
  if (want.hiddenStates) outputs.push({ name: 'hidden_states', dims: ['batch', 'seq', dirsH] });
  if (want.hN) outputs.push({ name: 'h_n', dims: [slots.S, 'batch', H] });
  if (want.hN && hasLstm) outputs.push({ name: 'c_n', dims: [slots.lstmS, 'batch', H] });
  ifEmptyX(
    s,
    outputs,
    'the recurrent layers',
    (e) => writeEmpty(e, c, want, slots),
    (st) => writeLayers(st, c, want, slots, opset, writers),
  );

  const { head } = c;
  const headDims = head.transB ? [head.outputSize, dirsH] : [dirsH, head.outputSize];
  const output = chainOutputName(head);
  const gemmOut = head.softmax ? 'dense' : output;
  s.node('Gemm', ['h_last', s.float('head_weight', headDims, head.weight), s.float('head_bias', [head.outputSize], head.bias)], [gemmOut], head.transB ? { transB: attr.int(1) } : {});
  if (head.softmax) s.node('Softmax', [gemmOut], [output], { axis: attr.int(1) });

  const inputs = [makeValueInfo('x', 'float32', ['batch', 'seq', c.inputSize], 'Input sequence [batch, seq, input].')];
  if (want.h0) {
    inputs.push(makeValueInfo('h0', 'float32', [slots.S, 'batch', H], 'Initial hidden state of every layer and direction [S, batch, hidden], layer-major, forward then reverse.'));
    if (hasLstm) inputs.push(makeValueInfo('c0', 'float32', [slots.lstmS, 'batch', H], "Initial cell state of every LSTM layer's directions [S_lstm, batch, hidden]."));
  }
  const graphOutputs = [makeValueInfo(output, 'float32', ['batch', head.outputSize], `${head.softmax ? 'softmax(dense(h))' : 'fc(h)'} [batch, output], h = ${READS_DOC[c.reads]}.`)];
  if (want.hiddenStates) graphOutputs.push(makeValueInfo('hidden_states', 'float32', ['batch', 'seq', dirsH], "The last layer's outputs at every step [batch, seq, dirs·hidden]."));
  if (want.hN) {
    graphOutputs.push(makeValueInfo('h_n', 'float32', [slots.S, 'batch', H], 'Final hidden state of every layer and direction [S, batch, hidden].'));
    if (hasLstm) graphOutputs.push(makeValueInfo('c_n', 'float32', [slots.lstmS, 'batch', H], "Final cell state of every LSTM layer's directions [S_lstm, batch, hidden]."));
  }
  const graph = mainGraph(s, opset, { name: c.name, inputs, outputs: graphOutputs });
  const model = makeModel(graph, {
    opset,
    docString: c.docString,
    metadata: { ...options.metadata, ...c.metadata, 'gru_onnx.form': built, 'gru_onnx.target': target, ...(rule ? { 'gru_onnx.auto': rule } : {}) },
  });
  assertValidModel(model);
  return model;
}

export function exportRecurrentChain(c: RecurrentChain, options: ChainExportOptions = {}): Uint8Array {
  return encodeModel(buildRecurrentChain(c, options));
}

const READS_DOC: Record<PytorchHead, string> = {
  'final-state': "the last layer's final state",
  'last-step': "the last layer's output at the last step",
  mean: "the last layer's outputs averaged over time",
};

/** The output's name says what it holds: `probabilities` after a softmax, else `logits`. */
export function chainOutputName(head: { softmax: boolean }): 'probabilities' | 'logits' {
  return head.softmax ? 'probabilities' : 'logits';
}

/**
 * An empty x (seq 0 or batch 0): no step exists. h_n = h0 (zeros without) and c_n = c0; the final-state head
 * reads the last layer's h0, the last-step and mean heads read zeros (mean: the empty sum); hidden_states is
 * [batch, seq, dirs·H], empty.
 */
function writeEmpty(e: Scope, c: RecurrentChain, want: Want, slots: Slots): string[] {
  const top = c.layers[c.layers.length - 1]!;
  const k = c.layers.length - 1;
  const dirsH = top.dirs * top.hiddenSize;
  const H = slots.H ?? 0;
  let hLast: string;
  if (want.h0 && c.reads === 'final-state') {
    const rows = e.node('Gather', ['h0', e.int64(`${e.prefix}slots_l${k}`, [top.dirs], range(slots.hOffset[k]!, top.dirs))], [`${e.prefix}h0_l${k}`], { axis: attr.int(0) });
    hLast = batchFeatures(e, rows, dirsH, `${e.prefix}h_last`);
  } else {
    hLast = zerosState(e, dirsH);
  }
  const names = [hLast];
  if (want.hiddenStates) {
    // x · 0 [input, dirs·H] has hidden_states' shape [batch, seq, dirs·H].
    names.push(e.node('MatMul', ['x', e.float(`${e.prefix}zeros_input_features`, [c.inputSize, dirsH], new Float32Array(c.inputSize * dirsH))], [`${e.prefix}hidden_states`]));
  }
  if (want.hN) {
    const state = (input: string, S: number, tag: string) => {
      if (want.h0) return e.node('Identity', [input], [`${e.prefix}${tag}_n`]);
      const sub = e.child(`${e.prefix}${tag}_`);
      const flat = zerosState(sub, S * H);
      const batchSlots = sub.node('Reshape', [flat, sub.int64(`${sub.prefix}shape_batch_slots_h`, [3], [0, S, H])], [`${sub.prefix}batch_slots_h`]);
      sub.node('Transpose', [batchSlots], [`${e.prefix}${tag}_n`], { perm: attr.ints([1, 0, 2]) });
      e.nodes.push(...sub.nodes);
      return `${e.prefix}${tag}_n`;
    };
    names.push(state('h0', slots.S, 'h'));
    if (slots.lstmS > 0) names.push(state('c0', slots.lstmS, 'c'));
  }
  return names;
}

/** [dirs, batch, H] → [batch, dirs, H] → [batch, dirs·H]: cat(h_n[-2], h_n[-1]) when bidirectional. */
function batchFeatures(s: Scope, dirsBatchH: string, features: number, out: string): string {
  const t = s.node('Transpose', [dirsBatchH], [`${out}_batch_dirs`], { perm: attr.ints([1, 0, 2]) });
  return s.node('Reshape', [t, s.int64(`${out}_shape_batch_features`, [2], [0, features])], [out]);
}

const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

/** The layers on a non-empty x; returns h_last [batch, dirs·H], then hidden_states, h_n, c_n as asked for. */
function writeLayers(s: Scope, c: RecurrentChain, want: Want, slots: Slots, opset: number, writers: LayerWriter[]): string[] {
  let X = s.node('Transpose', ['x'], [`${s.prefix}x_seq_major`], { perm: attr.ints([1, 0, 2]) });
  const last = c.layers.length - 1;
  const Yhs: string[] = [];
  const Ycs: string[] = [];
  let top: LayerOut = { Yh: '' };
  c.layers.forEach((l, k) => {
    const slotsOfLayer = (input: string, offset: number, tag: string) =>
      s.node('Gather', [input, s.int64(`${s.prefix}${tag}_slots_l${k}`, [l.dirs], range(offset, l.dirs))], [`${s.prefix}${tag}_l${k}`], { axis: attr.int(0) });
    const lstm = l.cell === 'LSTM';
    const input: LayerIn = {
      X,
      h0: want.h0 ? slotsOfLayer('h0', slots.hOffset[k]!, 'h0') : undefined,
      c0: want.h0 && lstm ? slotsOfLayer('c0', slots.cOffset[k]!, 'c0') : undefined,
      needY: k < last || c.reads !== 'final-state' || want.hiddenStates,
      needYc: want.hN && lstm,
    };
    const out = writers[k]!(s, l, k, input, opset);
    Yhs.push(out.Yh);
    if (out.Yc) Ycs.push(out.Yc);
    if (k < last) X = out.Y!;
    top = out;
  });
  const l = c.layers[last]!;
  const dirsH = l.dirs * l.hiddenSize;
  const names: string[] = [];
  if (c.reads === 'final-state') names.push(batchFeatures(s, top.Yh, dirsH, `${s.prefix}h_last`));
  else if (c.reads === 'mean') names.push(meanOverTime(s, top.Y!, opset));
  else names.push(lastStep(s, top.Y!, dirsH, opset));
  if (want.hiddenStates) names.push(s.node('Transpose', [top.Y!], [`${s.prefix}hidden_states`], { perm: attr.ints([1, 0, 2]) }));
  if (want.hN) {
    const joined = (parts: string[], out: string) => s.node(parts.length === 1 ? 'Identity' : 'Concat', parts, [out], parts.length === 1 ? {} : { axis: attr.int(0) });
    names.push(joined(Yhs, `${s.prefix}h_n`));
    if (Ycs.length > 0) names.push(joined(Ycs, `${s.prefix}c_n`));
  }
  return names;
}

/** out [seq, batch, F] → out[seq − 1] [batch, F] (seq > 0 here: the empty x never reaches the layers). */
function lastStep(s: Scope, out: string, features: number, opset: number): string {
  const INT64_MAX = Number.MAX_SAFE_INTEGER;
  // Slice takes starts/ends as attributes before opset 10 and as inputs from 10; both count −1 from the end.
  const last = opset < 10
    ? s.node('Slice', [out], [`${s.prefix}out_last_1`], { axes: attr.ints([0]), starts: attr.ints([-1]), ends: attr.ints([INT64_MAX]) })
    : s.node('Slice', [out, s.int64(`${s.prefix}slice_starts_last`, [1], [-1]), s.int64(`${s.prefix}slice_ends_last`, [1], [INT64_MAX]), s.int64(`${s.prefix}slice_axes_0`, [1], [0])], [`${s.prefix}out_last_1`]);
  // [1, batch, F] → [batch, F]; batch > 0, so −1 is well defined.
  return s.node('Reshape', [last, s.int64(`${s.prefix}shape_batch_features_last`, [2], [-1, features])], [`${s.prefix}h_last`]);
}

/** out [seq, batch, F] → mean over seq [batch, F]. */
function meanOverTime(s: Scope, out: string, opset: number): string {
  // ReduceMean takes its axes as an attribute before opset 18 and as an input from 18.
  return opset < 18
    ? s.node('ReduceMean', [out], [`${s.prefix}h_last`], { axes: attr.ints([0]), keepdims: attr.int(0) })
    : s.node('ReduceMean', [out, s.int64(`${s.prefix}reduce_axes_0`, [1], [0])], [`${s.prefix}h_last`], { keepdims: attr.int(0) });
}
