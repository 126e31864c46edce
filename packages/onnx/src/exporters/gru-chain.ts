/**
 * The graph every imported classifier becomes: x [batch, seq, input] → one ONNX GRU node per layer → what the head
 * reads of the last layer (its final state, its output at the last step, or its outputs' mean over time; both
 * directions) → Gemm → `logits` [batch, output], or Gemm → Softmax → `probabilities`.
 *
 * ONNX GRU reads X as [seq, batch, input] and writes Y [seq, dirs, batch, H] and Y_h [dirs, batch, H]; between
 * layers Y becomes [seq, batch, dirs·H] (forward then reverse features, as PyTorch concatenates them).
 */
import type { PytorchHead } from '@gru-onnx/model';
import { assertGruOpset, attr, encodeModel, makeModel, makeValueInfo } from '../builder.ts';
import type { AttributeValue } from '../builder.ts';
import { assertValidModel } from '../checker.ts';
import { DEFAULT_OPSET } from '../export-seed.ts';
import type { onnx } from '../proto.ts';
import { ifEmptyX, mainGraph, Scope, zerosState } from '../scope.ts';

/** One GRU node's constants in ONNX layout and gate order z, r, h. */
export interface OnnxGruLayer {
  /** [dirs, 3H, input] */
  W: Float32Array;
  /** [dirs, 3H, H] */
  R: Float32Array;
  /** [dirs, 6H] = [Wb_z Wb_r Wb_h Rb_z Rb_r Rb_h] per direction. */
  B: Float32Array;
  inputSize: number;
  hiddenSize: number;
  dirs: 1 | 2;
  linearBeforeReset: 0 | 1;
  /** Per direction [f, g]; omitted means ONNX's default [Sigmoid, Tanh]. */
  activations?: { names: string[]; alpha: number[]; beta: number[] };
}

export interface GruChain {
  name: string;
  inputSize: number;
  layers: OnnxGruLayer[];
  /** logits = h_last · Wᵀ + b with weight [O, dirs·H] (transB), or h_last · W + b with weight [dirs·H, O]. */
  head: { weight: Float32Array; bias: Float32Array; outputSize: number; transB: boolean; softmax: boolean };
  /** What h_last is (PytorchHead): the last layer's final state, its output at the last step, or their mean over time. */
  reads: PytorchHead;
  docString: string;
  metadata: Record<string, string>;
}

export interface ImportExportOptions {
  /** Default-domain opset, 7 to 21; default DEFAULT_OPSET (17), as for the seed. */
  opset?: number;
  /** Extra metadata_props, e.g. the source file's SHA-256. */
  metadata?: Readonly<Record<string, string>>;
}

/** Builds, checks and encodes the chain's model. */
export function buildGruChain(c: GruChain, options: ImportExportOptions = {}): onnx.ModelProto {
  const opset = options.opset ?? DEFAULT_OPSET;
  assertGruOpset(opset, 'these');
  const s = new Scope('');
  const { head } = c;
  const top = c.layers[c.layers.length - 1]!;
  const dirsH = top.dirs * top.hiddenSize;
  // Every source model starts from the zero state: an empty x gives it, so logits = head(0) at seq 0 and
  // [0, output] at batch 0.
  // Every head reads zeros at seq 0 (mean: the empty sum, not 0/0).
  ifEmptyX(s, [{ name: 'h_last', dims: ['batch', dirsH] }], 'the GRU layers', (e) => [zerosState(e, dirsH)], (st) => [writeLayers(st, c.layers, c.reads, opset)]);
  const headDims = head.transB ? [head.outputSize, dirsH] : [dirsH, head.outputSize];
  const output = chainOutputName(head);
  const gemmOut = head.softmax ? 'dense' : output;
  s.node('Gemm', ['h_last', s.float('head_weight', headDims, head.weight), s.float('head_bias', [head.outputSize], head.bias)], [gemmOut], head.transB ? { transB: attr.int(1) } : {});
  if (head.softmax) s.node('Softmax', [gemmOut], [output], { axis: attr.int(1) });

  const graph = mainGraph(s, opset, {
    name: c.name,
    inputs: [makeValueInfo('x', 'float32', ['batch', 'seq', c.inputSize], 'Input sequence [batch, seq, input].')],
    outputs: [makeValueInfo(output, 'float32', ['batch', head.outputSize], `${head.softmax ? 'softmax(dense(h))' : 'fc(h)'} [batch, output], h = ${READS_DOC[c.reads]}.`)],
  });
  const model = makeModel(graph, { opset, docString: c.docString, metadata: { ...options.metadata, ...c.metadata, 'gru_onnx.form': 'fused' } });
  assertValidModel(model);
  return model;
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

/** The GRU layers on x (not empty); returns what the head reads, [batch, dirs·H]. */
function writeLayers(s: Scope, layers: readonly OnnxGruLayer[], reads: PytorchHead, opset: number): string {
  let X = s.node('Transpose', ['x'], ['x_seq_major'], { perm: attr.ints([1, 0, 2]) });
  let hLast = '';
  layers.forEach((l, k) => {
    const H = l.hiddenSize;
    const attributes: Record<string, AttributeValue> = {
      direction: attr.string(l.dirs === 2 ? 'bidirectional' : 'forward'),
      hidden_size: attr.int(H),
      linear_before_reset: attr.int(l.linearBeforeReset),
    };
    if (l.activations) {
      attributes.activations = attr.strings(l.activations.names);
      if (l.activations.alpha.length > 0) attributes.activation_alpha = attr.floats(l.activations.alpha);
      if (l.activations.beta.length > 0) attributes.activation_beta = attr.floats(l.activations.beta);
    }
    const inputs = [X, s.float(`W_l${k}`, [l.dirs, 3 * H, l.inputSize], l.W), s.float(`R_l${k}`, [l.dirs, 3 * H, H], l.R), s.float(`B_l${k}`, [l.dirs, 6 * H], l.B)];
    if (k < layers.length - 1 || reads !== 'final-state') {
      const Y = s.node('GRU', inputs, [`Y_l${k}`], attributes);
      // [seq, dirs, batch, H] → [seq, batch, dirs, H] → [seq, batch, dirs·H]
      const t = s.node('Transpose', [Y], [`Y_l${k}_seq_batch_dirs`], { perm: attr.ints([0, 2, 1, 3]) });
      X = s.node('Reshape', [t, s.int64(`shape_l${k}_seq_batch_features`, [3], [0, 0, -1])], [k < layers.length - 1 ? `X_l${k + 1}` : 'out_seq_batch_features']);
      if (k === layers.length - 1) hLast = reads === 'mean' ? meanOverTime(s, X, opset) : lastStep(s, X, l.dirs * H, opset);
    } else {
      s.node('GRU', inputs, ['', `Y_h_l${k}`], attributes);
      // [dirs, batch, H] → [batch, dirs, H] → [batch, dirs·H]: cat(h_n[-2], h_n[-1]) when bidirectional.
      const t = s.node('Transpose', [`Y_h_l${k}`], [`Y_h_l${k}_batch_dirs`], { perm: attr.ints([1, 0, 2]) });
      hLast = s.node('Reshape', [t, s.int64('shape_batch_features', [2], [0, -1])], ['h_last_steps']);
    }
  });
  return hLast;
}

/** out [seq, batch, F] → out[seq − 1] [batch, F] (seq > 0 here: the empty x never reaches the layers). */
function lastStep(s: Scope, out: string, features: number, opset: number): string {
  const INT64_MAX = Number.MAX_SAFE_INTEGER;
  // Slice takes starts/ends as attributes before opset 10 and as inputs from 10; both count −1 from the end.
  const last = opset < 10
    ? s.node('Slice', [out], ['out_last_1'], { axes: attr.ints([0]), starts: attr.ints([-1]), ends: attr.ints([INT64_MAX]) })
    : s.node('Slice', [out, s.int64('slice_starts_last', [1], [-1]), s.int64('slice_ends_last', [1], [INT64_MAX]), s.int64('slice_axes_0', [1], [0])], ['out_last_1']);
  // [1, batch, F] → [batch, F]; batch > 0, so −1 is well defined.
  return s.node('Reshape', [last, s.int64('shape_batch_features_last', [2], [-1, features])], ['h_last_steps']);
}

/** out [seq, batch, F] → mean over seq [batch, F]. */
function meanOverTime(s: Scope, out: string, opset: number): string {
  // ReduceMean takes its axes as an attribute before opset 18 and as an input from 18.
  return opset < 18
    ? s.node('ReduceMean', [out], ['h_last_steps'], { axes: attr.ints([0]), keepdims: attr.int(0) })
    : s.node('ReduceMean', [out, s.int64('reduce_axes_0', [1], [0])], ['h_last_steps'], { keepdims: attr.int(0) });
}

export function exportGruChain(c: GruChain, options: ImportExportOptions = {}): Uint8Array {
  return encodeModel(buildGruChain(c, options));
}
