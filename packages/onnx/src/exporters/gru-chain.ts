/**
 * The graph every imported classifier becomes: x [batch, seq, input] → one ONNX GRU node per layer → the last
 * layer's final state (both directions) → Gemm (→ Softmax) → `logits` [batch, output].
 *
 * ONNX GRU reads X as [seq, batch, input] and writes Y [seq, dirs, batch, H] and Y_h [dirs, batch, H]; between
 * layers Y becomes [seq, batch, dirs·H] (forward then reverse features, as PyTorch concatenates them).
 */
import { UserError } from '@gru-onnx/model';
import { attr, encodeModel, makeModel, makeValueInfo, MAX_OPSET, MIN_OPSET } from '../builder.ts';
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
  const s = new Scope('');
  const { head } = c;
  const top = c.layers[c.layers.length - 1]!;
  const dirsH = top.dirs * top.hiddenSize;
  // Every source model starts from the zero state: an empty x gives it, so logits = head(0) at seq 0 and
  // [0, output] at batch 0.
  ifEmptyX(s, [{ name: 'h_last', dims: ['batch', dirsH] }], 'the GRU layers', (e) => [zerosState(e, dirsH)], (st) => [writeLayers(st, c.layers)]);
  const headDims = head.transB ? [head.outputSize, dirsH] : [dirsH, head.outputSize];
  const gemmOut = head.softmax ? 'dense' : 'logits';
  s.node('Gemm', ['h_last', s.float('head_weight', headDims, head.weight), s.float('head_bias', [head.outputSize], head.bias)], [gemmOut], head.transB ? { transB: attr.int(1) } : {});
  if (head.softmax) s.node('Softmax', [gemmOut], ['logits'], { axis: attr.int(1) });

  const graph = mainGraph(s, opset, {
    name: c.name,
    inputs: [makeValueInfo('x', 'float32', ['batch', 'seq', c.inputSize], 'Input sequence [batch, seq, input].')],
    outputs: [makeValueInfo('logits', 'float32', ['batch', head.outputSize], head.softmax ? 'softmax(dense(h_T)) [batch, output].' : 'fc(h_T) [batch, output].')],
  });
  const model = makeModel(graph, { opset, docString: c.docString, metadata: { ...options.metadata, ...c.metadata, 'gru_onnx.form': 'fused' } });
  assertValidModel(model);
  return model;
}

/** The GRU layers on x; returns the last layer's final state [batch, dirs·H]. */
function writeLayers(s: Scope, layers: readonly OnnxGruLayer[]): string {
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
    if (k < layers.length - 1) {
      const Y = s.node('GRU', inputs, [`Y_l${k}`], attributes);
      // [seq, dirs, batch, H] → [seq, batch, dirs, H] → [seq, batch, dirs·H]
      const t = s.node('Transpose', [Y], [`Y_l${k}_seq_batch_dirs`], { perm: attr.ints([0, 2, 1, 3]) });
      X = s.node('Reshape', [t, s.int64(`shape_l${k}_seq_batch_features`, [3], [0, 0, -1])], [`X_l${k + 1}`]);
    } else {
      s.node('GRU', inputs, ['', `Y_h_l${k}`], attributes);
      // [dirs, batch, H] → [batch, dirs, H] → [batch, dirs·H]: cat(h_n[-2], h_n[-1]) when bidirectional.
      const t = s.node('Transpose', [`Y_h_l${k}`], [`Y_h_l${k}_batch_dirs`], { perm: attr.ints([1, 0, 2]) });
      hLast = s.node('Reshape', [t, s.int64('shape_batch_features', [2], [0, -1])], ['h_last_steps']);
    }
  });
  return hLast;
}

export function exportGruChain(c: GruChain, options: ImportExportOptions = {}): Uint8Array {
  return encodeModel(buildGruChain(c, options));
}
