import type { SeedParams } from './params.ts';
import { configFromParams } from './params.ts';

/** Output of the float64 reference: logits [B, O], every hidden state [B, T, H], and h_T [B, H]. */
export interface ReferenceOutput {
  logits: Float64Array;
  hiddenStates: Float64Array;
  hN: Float64Array;
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** y[o] = b[o] + Σ_i W[o, i] · v[i], W row-major [out, in], in float64. */
function linear(W: Float32Array, b: Float32Array | undefined, v: Float64Array, out: number, inp: number): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o]! : 0;
    const row = o * inp;
    for (let i = 0; i < inp; i++) s += W[row + i]! * v[i]!;
    y[o] = s;
  }
  return y;
}

/**
 * The seed's `MyModel.forward` in float64, independent of tfjs and onnxruntime: the numeric source of truth.
 *
 *   z  = σ(W_xz x + b_xz + W_hz h)        r = σ(W_xr x + b_xr + W_hr h)
 *   h̃  = tanh(W_xh x + b_xh + W_hh (r ⊙ h))
 *   h' = (1 − z) ⊙ h + z ⊙ h̃              logits = fc(h_T),  h_0 = 0 (or `h0`)
 *
 * `x` is [batch, seq, input] row-major; `h0`, when given, is [batch, hidden].
 */
export function referenceForward(
  p: SeedParams,
  x: ArrayLike<number>,
  batch: number,
  seq: number,
  h0?: ArrayLike<number>,
): ReferenceOutput {
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(p);
  if (x.length !== batch * seq * I) throw new RangeError(`x has ${x.length} values, expected ${batch}×${seq}×${I}`);
  if (h0 && h0.length !== batch * H) throw new RangeError(`h0 has ${h0.length} values, expected ${batch}×${H}`);
  const W = (n: keyof SeedParams) => p[n].data;
  const logits = new Float64Array(batch * O);
  const hiddenStates = new Float64Array(batch * seq * H);
  const hN = new Float64Array(batch * H);
  for (let b = 0; b < batch; b++) {
    let h = new Float64Array(H);
    if (h0) for (let j = 0; j < H; j++) h[j] = h0[b * H + j]!;
    for (let t = 0; t < seq; t++) {
      const xt = new Float64Array(I);
      for (let i = 0; i < I; i++) xt[i] = x[(b * seq + t) * I + i]!;
      const xZ = linear(W('gru.W_xz.weight'), W('gru.W_xz.bias'), xt, H, I);
      const xR = linear(W('gru.W_xr.weight'), W('gru.W_xr.bias'), xt, H, I);
      const xH = linear(W('gru.W_xh.weight'), W('gru.W_xh.bias'), xt, H, I);
      const recurrentZ = linear(W('gru.W_hz.weight'), undefined, h, H, H);
      const recurrentR = linear(W('gru.W_hr.weight'), undefined, h, H, H);
      const rH = new Float64Array(H);
      const z = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        z[j] = sigmoid(xZ[j]! + recurrentZ[j]!);
        rH[j] = sigmoid(xR[j]! + recurrentR[j]!) * h[j]!;
      }
      const recurrentH = linear(W('gru.W_hh.weight'), undefined, rH, H, H);
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const hTilde = Math.tanh(xH[j]! + recurrentH[j]!);
        next[j] = (1 - z[j]!) * h[j]! + z[j]! * hTilde;
      }
      h = next;
      hiddenStates.set(h, (b * seq + t) * H);
    }
    hN.set(h, b * H);
    logits.set(linear(W('fc.weight'), W('fc.bias'), h, O, H), b * O);
  }
  return { logits, hiddenStates, hN };
}
