import type * as TF from '@tensorflow/tfjs';
import { initTfjs, type Tf, type TfjsBackendChoice } from './backend.ts';
import type { ModelConfig } from './config.ts';
import { UserError } from './errors.ts';
import { configFromParams, type SeedParams } from './params.ts';

/**
 * The seed's model in TensorFlow.js, in a fused layout that is fast to train and exactly the same function:
 *
 *   xZRH = X W_x + b_x          one matMul for the three input maps of every step: X [T·B, I], W_x [I, 3H]
 *   per step t:
 *     [a_z a_r] = xZR_t + h W_hzr       one matMul for both recurrent gate maps, W_hzr [H, 2H]
 *     z = σ(a_z),  r = σ(a_r)
 *     h̃ = tanh(xH_t + (r ⊙ h) W_hh)
 *     h' = h + z ⊙ (h̃ − h)             = (1 − z) ⊙ h + z ⊙ h̃
 *   logits = h_T W_fc + b_fc
 *
 * The fused matrices are the PyTorch ones transposed and concatenated (columns z | r | h), so Adam, which acts
 * elementwise, updates them exactly as it would the eleven separate tensors.
 */
export interface FusedArrays {
  /** [I, 3H]: W_xzᵀ | W_xrᵀ | W_xhᵀ */
  Wx: Float32Array;
  /** [3H]: b_xz | b_xr | b_xh */
  bx: Float32Array;
  /** [H, 2H]: W_hzᵀ | W_hrᵀ */
  Whzr: Float32Array;
  /** [H, H]: W_hhᵀ */
  Whh: Float32Array;
  /** [H, O]: fc.weightᵀ */
  Wfc: Float32Array;
  /** [O] */
  bfc: Float32Array;
}
export type FusedName = keyof FusedArrays;
export const FUSED_NAMES: readonly FusedName[] = ['Wx', 'bx', 'Whzr', 'Whh', 'Wfc', 'bfc'];

export function fusedShapes(c: ModelConfig): Record<FusedName, number[]> {
  const { inputSize: I, hiddenSize: H, outputSize: O } = c;
  return { Wx: [I, 3 * H], bx: [3 * H], Whzr: [H, 2 * H], Whh: [H, H], Wfc: [H, O], bfc: [O] };
}

/** Copies W [rows, cols] transposed into dst [cols, stride] at column offset `col`. */
function putTransposed(dst: Float32Array, stride: number, col: number, W: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * stride + col + r] = W[r * cols + c]!;
}
/** Inverse of putTransposed: reads W [rows, cols] from src [cols, stride] at column offset `col`. */
function takeTransposed(src: Float32Array, stride: number, col: number, rows: number, cols: number): Float32Array {
  const W = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) W[r * cols + c] = src[c * stride + col + r]!;
  return W;
}

export function fuseParams(p: SeedParams): FusedArrays {
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(p);
  const Wx = new Float32Array(I * 3 * H);
  putTransposed(Wx, 3 * H, 0, p['gru.W_xz.weight'].data, H, I);
  putTransposed(Wx, 3 * H, H, p['gru.W_xr.weight'].data, H, I);
  putTransposed(Wx, 3 * H, 2 * H, p['gru.W_xh.weight'].data, H, I);
  const bx = new Float32Array(3 * H);
  bx.set(p['gru.W_xz.bias'].data, 0);
  bx.set(p['gru.W_xr.bias'].data, H);
  bx.set(p['gru.W_xh.bias'].data, 2 * H);
  const Whzr = new Float32Array(H * 2 * H);
  putTransposed(Whzr, 2 * H, 0, p['gru.W_hz.weight'].data, H, H);
  putTransposed(Whzr, 2 * H, H, p['gru.W_hr.weight'].data, H, H);
  const Whh = new Float32Array(H * H);
  putTransposed(Whh, H, 0, p['gru.W_hh.weight'].data, H, H);
  const Wfc = new Float32Array(H * O);
  putTransposed(Wfc, O, 0, p['fc.weight'].data, O, H);
  return { Wx, bx, Whzr, Whh, Wfc, bfc: Float32Array.from(p['fc.bias'].data) };
}

/** Back to the seed's PyTorch tensors (also maps fused gradients to per-parameter gradients). */
export function unfuseParams(f: FusedArrays, c: ModelConfig): SeedParams {
  const { inputSize: I, hiddenSize: H, outputSize: O } = c;
  return {
    'gru.W_xz.weight': { shape: [H, I], data: takeTransposed(f.Wx, 3 * H, 0, H, I) },
    'gru.W_xz.bias': { shape: [H], data: f.bx.slice(0, H) },
    'gru.W_hz.weight': { shape: [H, H], data: takeTransposed(f.Whzr, 2 * H, 0, H, H) },
    'gru.W_xr.weight': { shape: [H, I], data: takeTransposed(f.Wx, 3 * H, H, H, I) },
    'gru.W_xr.bias': { shape: [H], data: f.bx.slice(H, 2 * H) },
    'gru.W_hr.weight': { shape: [H, H], data: takeTransposed(f.Whzr, 2 * H, H, H, H) },
    'gru.W_xh.weight': { shape: [H, I], data: takeTransposed(f.Wx, 3 * H, 2 * H, H, I) },
    'gru.W_xh.bias': { shape: [H], data: f.bx.slice(2 * H, 3 * H) },
    'gru.W_hh.weight': { shape: [H, H], data: takeTransposed(f.Whh, H, 0, H, H) },
    'fc.weight': { shape: [O, H], data: takeTransposed(f.Wfc, O, 0, O, H) },
    'fc.bias': { shape: [O], data: Float32Array.from(f.bfc) },
  };
}

/** x [B, T, I] → [T, B, I], so each step's rows are contiguous after the input projection. */
export function toTimeMajor(x: ArrayLike<number>, batch: number, seq: number, input: number, rows?: ArrayLike<number>): Float32Array {
  const out = new Float32Array(batch * seq * input);
  for (let b = 0; b < batch; b++) {
    const src = rows ? rows[b]! : b;
    for (let t = 0; t < seq; t++) {
      const from = (src * seq + t) * input;
      const to = (t * batch + b) * input;
      for (let i = 0; i < input; i++) out[to + i] = x[from + i]!;
    }
  }
  return out;
}

export type FusedTensors = Record<FusedName, TF.Tensor>;

/**
 * The forward pass on tensors (differentiable: call it inside a tape). `xTM` is time-major [T·B, I]; `h0` is
 * [B, H] or undefined for zeros. Returns logits [B, O] and, when asked, every hidden state [B, T, H].
 */
export function fusedForward(
  tf: Tf,
  w: FusedTensors,
  xTM: TF.Tensor2D,
  batch: number,
  seq: number,
  h0?: TF.Tensor2D,
  keepStates = false,
): { logits: TF.Tensor2D; hN: TF.Tensor2D; hiddenStates?: TF.Tensor3D } {
  const H = w.Whh.shape[0]!;
  const xZRH = tf.add(tf.matMul(xTM, w.Wx as TF.Tensor2D), w.bx).reshape([seq, batch, 3 * H]);
  const xZR = tf.unstack(tf.slice(xZRH, [0, 0, 0], [seq, batch, 2 * H])) as TF.Tensor2D[];
  const xH = tf.unstack(tf.slice(xZRH, [0, 0, 2 * H], [seq, batch, H])) as TF.Tensor2D[];
  let h: TF.Tensor2D | undefined = h0;
  const states: TF.Tensor2D[] = [];
  for (let t = 0; t < seq; t++) {
    if (h === undefined) {
      // h_0 = 0: the recurrent terms vanish and h' = z ⊙ h̃ (bit-identical to the general step with h = 0).
      const zr = tf.sigmoid(xZR[t]!);
      const z = tf.slice(zr, [0, 0], [batch, H]);
      h = tf.mul<TF.Tensor2D>(z, tf.tanh(xH[t]!));
    } else {
      const zr = tf.sigmoid(tf.add(xZR[t]!, tf.matMul(h, w.Whzr as TF.Tensor2D)));
      const z = tf.slice(zr, [0, 0], [batch, H]);
      const r = tf.slice(zr, [0, H], [batch, H]);
      const hTilde = tf.tanh(tf.add(xH[t]!, tf.matMul(tf.mul(r, h), w.Whh as TF.Tensor2D)));
      h = tf.add<TF.Tensor2D>(h, tf.mul(z, tf.sub(hTilde, h)));
    }
    if (keepStates) states.push(h);
  }
  const hN: TF.Tensor2D = h ?? tf.zeros([batch, H]);
  const logits = tf.add<TF.Tensor2D>(tf.matMul(hN, w.Wfc as TF.Tensor2D), w.bfc);
  return { logits, hN, hiddenStates: keepStates ? (tf.stack(states, 1) as TF.Tensor3D) : undefined };
}

/** Mean softmax cross-entropy, as nn.CrossEntropyLoss: mean over the batch of −log softmax(logits)[label]. */
export function crossEntropy(tf: Tf, logits: TF.Tensor2D, oneHot: TF.Tensor2D): TF.Scalar {
  return tf.neg(tf.mean<TF.Scalar>(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)));
}

function checkInputs(c: ModelConfig, x: ArrayLike<number>, batch: number, seq: number, h0?: ArrayLike<number>): void {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new UserError(`batch ${batch} must be a positive integer`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new UserError(`sequence length ${seq} must be a positive integer`);
  if (x.length !== batch * seq * c.inputSize) throw new UserError(`x has ${x.length} values, expected ${batch}×${seq}×${c.inputSize}`);
  if (h0 && h0.length !== batch * c.hiddenSize) throw new UserError(`h0 has ${h0.length} values, expected ${batch}×${c.hiddenSize}`);
}

export interface TfjsForwardOutput {
  /** [B, O] */
  logits: Float32Array;
  /** [B, T, H] */
  hiddenStates: Float32Array;
  /** [B, H] */
  hN: Float32Array;
  backend: string;
}

/** The original model on tfjs, for verification: x [B, T, I] row-major, optional h0 [B, H]. */
export async function tfjsForward(
  params: SeedParams,
  x: ArrayLike<number>,
  batch: number,
  seq: number,
  h0?: ArrayLike<number>,
  backend: TfjsBackendChoice = 'auto',
): Promise<TfjsForwardOutput> {
  const c = configFromParams(params);
  checkInputs(c, x, batch, seq, h0);
  const { tf, backend: used } = await initTfjs(backend);
  const shapes = fusedShapes(c);
  const fused = fuseParams(params);
  const out = tf.tidy(() => {
    const w = Object.fromEntries(FUSED_NAMES.map((n) => [n, tf.tensor(fused[n], shapes[n])])) as FusedTensors;
    const xTM = tf.tensor2d(toTimeMajor(x, batch, seq, c.inputSize), [seq * batch, c.inputSize]);
    const h0T = h0 ? tf.tensor2d(Float32Array.from(h0), [batch, c.hiddenSize]) : undefined;
    const r = fusedForward(tf, w, xTM, batch, seq, h0T, true);
    return [r.logits, r.hiddenStates!, r.hN];
  });
  const [logits, hiddenStates, hN] = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
  tf.dispose(out);
  return { logits: logits!, hiddenStates: hiddenStates!, hN: hN!, backend: used };
}

/**
 * Loss and exact gradients (tfjs autodiff through the fused formulation), mapped back to the seed's parameter
 * names: what one training step sees.
 */
export async function tfjsLossAndGrads(
  params: SeedParams,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  batch: number,
  seq: number,
  backend: TfjsBackendChoice = 'auto',
): Promise<{ loss: number; grads: SeedParams; backend: string }> {
  const c = configFromParams(params);
  checkInputs(c, x, batch, seq);
  const { tf, backend: used } = await initTfjs(backend);
  const shapes = fusedShapes(c);
  const fused = fuseParams(params);
  const ws = FUSED_NAMES.map((n) => tf.tensor(fused[n], shapes[n]));
  const xTM = tf.tensor2d(toTimeMajor(x, batch, seq, c.inputSize), [seq * batch, c.inputSize]);
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), c.outputSize), 'float32') as TF.Tensor2D);
  const lossOf = (...t: TF.Tensor[]) => {
    const w = Object.fromEntries(FUSED_NAMES.map((n, i) => [n, t[i]!])) as FusedTensors;
    return crossEntropy(tf, fusedForward(tf, w, xTM, batch, seq).logits, oneHot);
  };
  const { value, grads } = tf.valueAndGrads(lossOf)(ws);
  const gradArrays = Object.fromEntries(await Promise.all(FUSED_NAMES.map(async (n, i) => [n, (await grads[i]!.data()) as Float32Array]))) as FusedArrays;
  const loss = (await value.data())[0]!;
  tf.dispose([...ws, xTM, oneHot, value, ...grads]);
  return { loss, grads: unfuseParams(gradArrays, c), backend: used };
}
