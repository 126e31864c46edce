import { describe, expect, it } from 'vitest';
import { SEED_CONFIG } from './config.ts';
import { randomParams } from './init.ts';
import { PARAM_NAMES, type SeedParams } from './params.ts';
import { referenceForward } from './reference.ts';
import { Rng } from './rng.ts';
import { tfjsForward, tfjsLossAndGrads } from './tfjs-model.ts';

/** Weights of a trained-looking size (±0.6), larger than nn.Linear's init, so the gates are exercised. */
const wideParams = (seed: number): SeedParams => randomParams(SEED_CONFIG, seed + 100, 0.6);

/** Float64 mean cross-entropy of the reference logits. */
function referenceLoss(p: SeedParams, x: Float32Array, labels: Int32Array, batch: number, seq: number): number {
  const logits = referenceForward(p, x, batch, seq).logits;
  const O = logits.length / batch;
  let total = 0;
  for (let b = 0; b < batch; b++) {
    const row = logits.subarray(b * O, (b + 1) * O);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    total += lse - row[labels[b]!]!;
  }
  return total / batch;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(['wasm', 'cpu'] as const)('tfjsForward on %s agrees with the float64 reference', (backend) => {
  for (const batch of [1, 7]) {
    for (const seq of [1, 10, 50]) {
      it(`batch ${batch}, seq ${seq}: logits and every hidden state within 1e-5`, async () => {
        const p = wideParams(batch * 100 + seq);
        const x = new Rng(batch + seq).normals(batch * seq * 8);
        const got = await tfjsForward(p, x, batch, seq, undefined, backend);
        expect(got.backend).toBe(backend);
        const ref = referenceForward(p, x, batch, seq);
        expect(got.logits).toHaveLength(batch * 4);
        expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(got.hiddenStates, ref.hiddenStates)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(got.hN, ref.hN)).toBeLessThanOrEqual(1e-5);
      });
    }
  }

  it('an empty x: seq 0 gives h_T = h0 (zeros without it) and logits = fc(h_T); batch 0 gives empty outputs', async () => {
    const p = wideParams(12);
    const h0 = new Rng(13).normals(2 * 16);
    for (const [batch, seq, withH0] of [[2, 0, true], [2, 0, false], [0, 3, false], [0, 0, false]] as const) {
      const got = await tfjsForward(p, new Float32Array(0), batch, seq, withH0 ? h0 : undefined, backend);
      const ref = referenceForward(p, new Float32Array(0), batch, seq, withH0 ? h0 : undefined);
      expect([got.logits.length, got.hN.length, got.hiddenStates.length]).toEqual([batch * 4, batch * 16, 0]);
      expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(got.hN, ref.hN)).toBeLessThanOrEqual(0);
    }
  });

  it('with a given h0', async () => {
    const p = wideParams(9);
    const x = new Rng(10).normals(3 * 4 * 8);
    const h0 = new Rng(11).normals(3 * 16);
    const got = await tfjsForward(p, x, 3, 4, h0, backend);
    const ref = referenceForward(p, x, 3, 4, h0);
    expect(maxAbsDiff(got.logits, ref.logits)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(got.hiddenStates, ref.hiddenStates)).toBeLessThanOrEqual(1e-5);
  });
});

describe('tfjs gradients agree with central finite differences of the float64 reference', () => {
  it('three entries of every parameter tensor', async () => {
    const p = wideParams(21);
    const [B, T] = [5, 6];
    const rng = new Rng(22);
    const x = rng.normals(B * T * 8);
    const labels = Int32Array.from({ length: B }, () => rng.int(4));
    const { loss, grads } = await tfjsLossAndGrads(p, x, labels, B, T, 'wasm');
    expect(Math.abs(loss - referenceLoss(p, x, labels, B, T))).toBeLessThanOrEqual(1e-5);
    for (const n of PARAM_NAMES) {
      const w = p[n].data;
      for (const i of [0, Math.floor(w.length / 2), w.length - 1]) {
        const keep = w[i]!;
        // The perturbed values are rounded to float32; divide by the step actually taken.
        w[i] = keep + 1e-3;
        const up = w[i]!;
        const lossUp = referenceLoss(p, x, labels, B, T);
        w[i] = keep - 1e-3;
        const down = w[i]!;
        const lossDown = referenceLoss(p, x, labels, B, T);
        w[i] = keep;
        const fd = (lossUp - lossDown) / (up - down);
        const g = grads[n].data[i]!;
        expect(Math.abs(g - fd), `${n}[${i}]: tfjs ${g} vs finite difference ${fd}`).toBeLessThanOrEqual(2e-5 + 1e-3 * Math.abs(fd));
      }
    }
  });
});
