/**
 * The graph every imported classifier becomes: x [batch, seq, input] → one ONNX GRU node per layer → the last
 * layer's final state (both directions) → Gemm (→ Softmax) → `logits` [batch, output].
 *
 * ONNX GRU reads X as [seq, batch, input] and writes Y [seq, dirs, batch, H] and Y_h [dirs, batch, H]; between
 * layers Y becomes [seq, batch, dirs·H] (forward then reverse features, as PyTorch concatenates them).
 */
import { UserError } from '@gru-onnx/model';
import { attr, encodeModel, localizeInitializers, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, MAX_OPSET, MIN_OPSET } from '../builder.ts';
import type { AttributeValue } from '../builder.ts';
import { assertValidModel } from '../checker.ts';
import { DEFAULT_OPSET } from '../export-seed.ts';
import { onnx } from '../proto.ts';

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
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw new UserError(`opset ${opset} is outside ${MIN_OPSET}–${MAX_OPSET}, the range where ONNX GRU keeps these semantics`);
  const main: onnx.NodeProto[] = [];
  // The GRU layers go into the If branch that only non-empty x reaches.
  const steps: onnx.NodeProto[] = [];
  let nodes = steps;
  const initializers: onnx.TensorProto[] = [];
  const node = (opType: string, inputs: string[], output: string, attributes: Record<string, AttributeValue> = {}, outputs = [output]) => {
    nodes.push(makeNode(opType, inputs, outputs, attributes, { name: `${opType}_${output}` }));
    return output;
  };
  const float = (name: string, dims: number[], values: ArrayLike<number>) => {
    initializers.push(makeTensor(name, 'float32', dims, values));
    return name;
  };
  const int64 = (name: string, values: number[]) => {
    initializers.push(makeTensor(name, 'int64', [values.length], values));
    return name;
  };

  let X = node('Transpose', ['x'], 'x_seq_major', { perm: attr.ints([1, 0, 2]) });
  let hLast = '';
  c.layers.forEach((l, k) => {
    const last = k === c.layers.length - 1;
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
    const inputs = [X, float(`W_l${k}`, [l.dirs, 3 * H, l.inputSize], l.W), float(`R_l${k}`, [l.dirs, 3 * H, H], l.R), float(`B_l${k}`, [l.dirs, 6 * H], l.B)];
    if (!last) {
      const Y = node('GRU', inputs, `Y_l${k}`, attributes);
      // [seq, dirs, batch, H] → [seq, batch, dirs, H] → [seq, batch, dirs·H]
      const t = node('Transpose', [Y], `Y_l${k}_seq_batch_dirs`, { perm: attr.ints([0, 2, 1, 3]) });
      X = node('Reshape', [t, int64(`shape_l${k}_seq_batch_features`, [0, 0, -1])], `X_l${k + 1}`);
    } else {
      const Yh = node('GRU', inputs, `Y_h_l${k}`, attributes, ['', `Y_h_l${k}`]);
      // [dirs, batch, H] → [batch, dirs, H] → [batch, dirs·H]: cat(h_n[-2], h_n[-1]) when bidirectional.
      const t = node('Transpose', [Yh], `Y_h_l${k}_batch_dirs`, { perm: attr.ints([1, 0, 2]) });
      hLast = node('Reshape', [t, int64('shape_batch_features', [0, -1])], 'h_last_steps');
    }
  });

  const { head } = c;
  const top = c.layers[c.layers.length - 1]!;
  const dirsH = top.dirs * top.hiddenSize;
  // onnxruntime's GRU kernel aborts the process on an empty x (seq 0 or batch 0): an If sends it to the zero
  // initial state every source model starts from, so logits = head(0) at seq 0 and [0, output] at batch 0.
  const empty: onnx.NodeProto[] = [];
  nodes = empty;
  const batch = node('Gather', [node('Shape', ['x'], 'x_shape'), int64('index_0', [0])], 'batch_1d', { axis: attr.int(0) });
  const repeats = node('Concat', [batch, int64('one_1d', [1])], 'zeros_repeats', { axis: attr.int(0) });
  const zeros = node('Tile', [float('zeros_1_features', [1, dirsH], new Float32Array(dirsH)), repeats], 'h_last_zeros');
  nodes = main;
  const isEmpty = node('Equal', [node('Size', ['x'], 'x_size'), int64('zero', [0])], 'x_is_empty');
  const branch = (name: string, body: onnx.NodeProto[], out: string, doc: string) =>
    makeGraph({ name, nodes: body, inputs: [], outputs: [makeValueInfo(out, 'float32', ['batch', dirsH])], docString: doc });
  hLast = node('If', [isEmpty], 'h_last', {
    else_branch: attr.graph(branch('gru_layers', steps, hLast, 'Non-empty x: the GRU layers.')),
    then_branch: attr.graph(branch('empty', empty, zeros, 'Empty x (seq or batch 0): the zero initial state.')),
  });
  const headDims = head.transB ? [head.outputSize, dirsH] : [dirsH, head.outputSize];
  const gemmOut = head.softmax ? 'dense' : 'logits';
  node('Gemm', [hLast, float('head_weight', headDims, head.weight), float('head_bias', [head.outputSize], head.bias)], gemmOut, head.transB ? { transB: attr.int(1) } : {});
  if (head.softmax) node('Softmax', [gemmOut], 'logits', { axis: attr.int(1) });

  const inputs = [makeValueInfo('x', 'float32', ['batch', 'seq', c.inputSize], 'Input sequence [batch, seq, input].')];
  // IR 3 (opsets 7–8) requires every initializer to be listed as a graph input too.
  if (opset < 9) for (const t of initializers) inputs.push(makeValueInfo(t.name, t.dataType === onnx.TensorProto.DataType.INT64 ? 'int64' : 'float32', t.dims.map(Number)));
  const graph = makeGraph({
    name: c.name,
    nodes: main,
    inputs,
    outputs: [makeValueInfo('logits', 'float32', ['batch', head.outputSize], head.softmax ? 'softmax(dense(h_T)) [batch, output].' : 'fc(h_T) [batch, output].')],
    initializers,
  });
  if (opset >= 9) localizeInitializers(graph);
  const model = makeModel(graph, { opset, docString: c.docString, metadata: { ...options.metadata, ...c.metadata, 'gru_onnx.form': 'fused' } });
  assertValidModel(model);
  return model;
}

export function exportGruChain(c: GruChain, options: ImportExportOptions = {}): Uint8Array {
  return encodeModel(buildGruChain(c, options));
}
