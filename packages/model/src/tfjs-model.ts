import type * as TF from '@tensorflow/tfjs';
import { initTfjs, type Tf, type TfjsBackendChoice } from './backend.ts';
import type { ModelConfig } from './config.ts';
import { UserError } from './errors.ts';
import { configFromParams, PARAM_NAMES, type ParamName, type SeedParams } from './params.ts';

/**
 * The seed's model in TensorFlow.js, in the formulation that trains fastest on tfjs-wasm (measured by
 * tools/bench/train.ts; the README's training table), computing exactly the seed's function:
 *
 *   activations are feature-major, [features, batch]; per step t, with X̂_t = [x_tᵀ; 1] [I + 1, B]:
 *     z  = σ([W_xz | b_xz] X̂_t + W_hz h)
 *     r  = σ([W_xr | b_xr] X̂_t + W_hr h)
 *     h̃  = tanh([W_xh | b_xh] X̂_t + W_hh (r ⊙ h)),   tanh(a) computed as 2σ(2a) − 1
 *     h' = h + z ⊙ (h̃ − h)                           = (1 − z) ⊙ h + z ⊙ h̃
 *   logits = (W_fc h_T)ᵀ + b_fc                        [B, O]
 *
 * Why this shape, from measurements of tfjs-wasm 4.22 at batch 20 000 (CPU ms per call):
 * - every Slice/Split/Unpack copies its whole input (the kernel reads the full tensor out of the wasm heap), so
 *   one matMul over all steps followed by a per-step unstack, or one [2H, B] z|r block split in two, costs more
 *   than it saves (split of [2H, B]: 3.7; the two extra small matMuls: 0.5 each). Only tiny weights are sliced.
 * - matMul with a transpose flag runs ~4–10× slower than transpose + plain matMul (dW of [32, B]·[16, B]ᵀ: 8.3 vs
 *   2.5), and autodiff's matMul gradient uses the flags; `matMulFast` below gives the same exact gradient
 *   (dA = dY Bᵀ, dB = Aᵀ dY) through explicit transposes.
 * - Tanh has no vectorised kernel (5.1 for [16, B]); 2σ(2a) − 1 takes 0.9. Its absolute error stays ~1e-7.
 * - the bias rides in the input matMul as a column of W against a row of ones, so its gradient needs no reduction.
 * Gradients stay exact: everything is tfjs autodiff except matMul's, which is the analytic one.
 */
export type ParamTensors = Record<ParamName, TF.Tensor>;

/**
 * Per-step inputs as constants: X̂_t = [x_tᵀ; 1] [I + 1, B] and its transpose [B, I + 1] (for the weight
 * gradient), built in JS. `rows` picks (and orders) the samples, for mini-batches.
 */
export interface StepInputs {
  xHat: TF.Tensor2D[];
  xHatT: TF.Tensor2D[];
}

export function makeStepInputs(tf: Tf, x: ArrayLike<number>, batch: number, seq: number, input: number, rows?: ArrayLike<number>): StepInputs {
  const xHat: TF.Tensor2D[] = [];
  const xHatT: TF.Tensor2D[] = [];
  const I1 = input + 1;
  for (let t = 0; t < seq; t++) {
    const a = new Float32Array(I1 * batch);
    const aT = new Float32Array(batch * I1);
    for (let b = 0; b < batch; b++) {
      const from = ((rows ? rows[b]! : b) * seq + t) * input;
      for (let i = 0; i < input; i++) {
        const v = x[from + i]!;
        a[i * batch + b] = v;
        aT[b * I1 + i] = v;
      }
      a[input * batch + b] = 1;
      aT[b * I1 + input] = 1;
    }
    xHat.push(tf.tensor2d(a, [I1, batch]));
    xHatT.push(tf.tensor2d(aT, [batch, I1]));
  }
  return { xHat, xHatT };
}

/** A·B whose gradient uses explicit transposes (see above): dA = dY·Bᵀ, dB = Aᵀ·dY. */
function matMulFast(tf: Tf, a: TF.Tensor2D, b: TF.Tensor2D): TF.Tensor2D {
  const f = tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
    const [A, B, save] = args as [TF.Tensor2D, TF.Tensor2D, TF.GradSaveFunc];
    save([A, B]);
    return {
      value: tf.matMul(A, B),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => [tf.matMul(dy as TF.Tensor2D, tf.transpose(saved[1]!)), tf.matMul(tf.transpose(saved[0]!), dy as TF.Tensor2D)],
    };
  });
  return f(a, b) as TF.Tensor2D;
}

/** W·X̂ for a constant X̂: only dW = dY·X̂ᵀ is needed, from the precomputed X̂ᵀ. */
function weightTimesInput(tf: Tf, w: TF.Tensor2D, xHat: TF.Tensor2D, xHatT: TF.Tensor2D): TF.Tensor2D {
  const f = tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
    const W = args[0] as TF.Tensor2D;
    return { value: tf.matMul(W, xHat), gradFunc: (dy: TF.Tensor) => [tf.matMul(dy as TF.Tensor2D, xHatT)] };
  });
  return f(w) as TF.Tensor2D;
}

/** tanh(a) = 2σ(2a) − 1: tfjs-wasm's sigmoid is vectorised, its tanh is not. */
function tanhViaSigmoid(tf: Tf, a: TF.Tensor): TF.Tensor2D {
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(a, 2)), 2), 1);
}

/**
 * The forward pass on tensors (differentiable: call it inside a tape). `h0` is [B, H] or undefined for zeros.
 * Returns logits [B, O] and, when asked, every hidden state [B, T, H].
 */
export function forwardTensors(
  tf: Tf,
  p: ParamTensors,
  inputs: StepInputs,
  batch: number,
  h0?: TF.Tensor2D,
  keepStates = false,
): { logits: TF.Tensor2D; hN: TF.Tensor2D; hiddenStates?: TF.Tensor3D } {
  const H = p['gru.W_hh.weight'].shape[0]!;
  const withBias = (w: ParamName, b: ParamName) => tf.concat([p[w] as TF.Tensor2D, tf.reshape(p[b], [H, 1]) as TF.Tensor2D], 1);
  const Wz = withBias('gru.W_xz.weight', 'gru.W_xz.bias');
  const Wr = withBias('gru.W_xr.weight', 'gru.W_xr.bias');
  const Wh = withBias('gru.W_xh.weight', 'gru.W_xh.bias');
  const [Whz, Whr, Whh] = (['gru.W_hz.weight', 'gru.W_hr.weight', 'gru.W_hh.weight'] as const).map((n) => p[n] as TF.Tensor2D);
  let h: TF.Tensor2D | undefined = h0 ? tf.transpose(h0) : undefined;
  const states: TF.Tensor2D[] = [];
  inputs.xHat.forEach((xHat, t) => {
    const xHatT = inputs.xHatT[t]!;
    const xZ = weightTimesInput(tf, Wz, xHat, xHatT);
    const xH = weightTimesInput(tf, Wh, xHat, xHatT);
    if (h === undefined) {
      // h_0 = 0: the recurrent terms vanish and h' = z ⊙ h̃.
      h = tf.mul<TF.Tensor2D>(tf.sigmoid(xZ), tanhViaSigmoid(tf, xH));
    } else {
      const xR = weightTimesInput(tf, Wr, xHat, xHatT);
      const z = tf.sigmoid(tf.add<TF.Tensor2D>(xZ, matMulFast(tf, Whz!, h)));
      const r = tf.sigmoid(tf.add<TF.Tensor2D>(xR, matMulFast(tf, Whr!, h)));
      const hTilde = tanhViaSigmoid(tf, tf.add(xH, matMulFast(tf, Whh!, tf.mul<TF.Tensor2D>(r, h))));
      h = tf.add<TF.Tensor2D>(h, tf.mul(z, tf.sub(hTilde, h)));
    }
    if (keepStates) states.push(h);
  });
  const hN: TF.Tensor2D = h ?? tf.zeros([H, batch]);
  const logits = tf.add<TF.Tensor2D>(tf.transpose(matMulFast(tf, p['fc.weight'] as TF.Tensor2D, hN)), p['fc.bias']);
  return {
    logits,
    hN: tf.transpose(hN),
    hiddenStates: keepStates ? (states.length > 0 ? (tf.transpose(tf.stack(states), [2, 0, 1]) as TF.Tensor3D) : tf.zeros([batch, 0, H])) : undefined,
  };
}

/** Mean softmax cross-entropy, as nn.CrossEntropyLoss: mean over the batch of −log softmax(logits)[label]. */
export function crossEntropy(tf: Tf, logits: TF.Tensor2D, oneHot: TF.Tensor2D): TF.Scalar {
  return tf.neg(tf.mean<TF.Scalar>(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)));
}

/** Training needs batch and seq ≥ 1; the forward pass also takes an empty x (h_T = h0, as the reference). */
function checkInputs(c: ModelConfig, x: ArrayLike<number>, batch: number, seq: number, h0?: ArrayLike<number>, least = 1): void {
  const what = least === 0 ? 'a non-negative integer' : 'a positive integer';
  if (!Number.isSafeInteger(batch) || batch < least) throw new UserError(`batch ${batch} must be ${what}`);
  if (!Number.isSafeInteger(seq) || seq < least) throw new UserError(`sequence length ${seq} must be ${what}`);
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

/** Tensors of `params`, keyed by name, on the current backend. */
export function paramTensors(tf: Tf, params: SeedParams): ParamTensors {
  return Object.fromEntries(PARAM_NAMES.map((n) => [n, tf.tensor(params[n].data, params[n].shape)])) as ParamTensors;
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
  checkInputs(c, x, batch, seq, h0, 0);
  const { tf, backend: used } = await initTfjs(backend);
  const out = tf.tidy(() => {
    const p = paramTensors(tf, params);
    const inputs = makeStepInputs(tf, x, batch, seq, c.inputSize);
    const h0T = h0 ? tf.tensor2d(Float32Array.from(h0), [batch, c.hiddenSize]) : undefined;
    const r = forwardTensors(tf, p, inputs, batch, h0T, true);
    return [r.logits, r.hiddenStates!, r.hN];
  });
  const [logits, hiddenStates, hN] = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
  tf.dispose(out);
  return { logits: logits!, hiddenStates: hiddenStates!, hN: hN!, backend: used };
}

/**
 * Loss and exact gradients of the mean cross-entropy (what one training step sees), by the seed's parameter
 * names.
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
  const p = paramTensors(tf, params);
  const ws = PARAM_NAMES.map((n) => p[n]);
  const inputs = makeStepInputs(tf, x, batch, seq, c.inputSize);
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), c.outputSize), 'float32') as TF.Tensor2D);
  const lossOf = (...t: TF.Tensor[]) => {
    const named = Object.fromEntries(PARAM_NAMES.map((n, i) => [n, t[i]!])) as ParamTensors;
    return crossEntropy(tf, forwardTensors(tf, named, inputs, batch).logits, oneHot);
  };
  const { value, grads } = tf.valueAndGrads(lossOf)(ws);
  const g = {} as SeedParams;
  for (const [i, n] of PARAM_NAMES.entries()) g[n] = { shape: [...params[n].shape], data: (await grads[i]!.data()) as Float32Array };
  const loss = (await value.data())[0]!;
  tf.dispose([...ws, ...inputs.xHat, ...inputs.xHatT, oneHot, value, ...grads]);
  return { loss, grads: g, backend: used };
}
