import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from './checkpoint.ts';
import { decodeSafetensors } from './safetensors.ts';
import { SEED_CONFIG } from './config.ts';
import { randomParams } from './init.ts';
import type { SeedParams } from './params.ts';
import { referenceForward } from './reference.ts';
import { Rng } from './rng.ts';

const SEED_PYTORCH = (f: string) => fileURLToPath(new URL(`../../../fixtures/seed-pytorch/${f}`, import.meta.url));
const randomSeedParams = (seed: number): SeedParams => randomParams(SEED_CONFIG, seed, 0.5);

describe('referenceForward', () => {
  it('keeps h at h0 when z = 0 everywhere (σ(−∞) = 0): h\' = (1 − z) h + z h̃', () => {
    const p = randomSeedParams(1);
    p['gru.W_xz.bias'].data.fill(-1e4); // z → 0: the seed's cell then keeps the previous state
    const h0 = Float64Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i));
    const x = new Rng(2).normals(2 * 5 * 8);
    const out = referenceForward(p, x, 2, 5, h0);
    for (let i = 0; i < h0.length; i++) expect(out.hN[i]).toBeCloseTo(h0[i]!, 12);
  });

  it('moves h to h̃ when z = 1: one step from h0 = 0 gives tanh(W_xh x + b_xh)', () => {
    const p = randomSeedParams(3);
    p['gru.W_xz.bias'].data.fill(1e4);
    const x = new Rng(4).normals(8);
    const out = referenceForward(p, x, 1, 1);
    const W = p['gru.W_xh.weight'].data;
    for (let j = 0; j < 16; j++) {
      let s = p['gru.W_xh.bias'].data[j]!;
      for (let i = 0; i < 8; i++) s += W[j * 8 + i]! * x[i]!;
      expect(out.hN[j]).toBeCloseTo(Math.tanh(s), 12);
    }
  });

  // r gates h before W_hh (W_hh (r ⊙ h), the seed's linear_before_reset = 0), not after it (r ⊙ (W_hh h)). With a
  // different r per unit the two differ; z = 1 makes one step's h' exactly that h̃, computed here by hand.
  it('applies r to h before W_hh: h̃ = tanh(W_xh x + b_xh + W_hh (r ⊙ h))', () => {
    const p = randomSeedParams(5);
    const [I, H] = [8, 16];
    p['gru.W_xz.bias'].data.fill(1e4); // z = 1: h' = h̃
    p['gru.W_xr.weight'].data.fill(0);
    p['gru.W_hr.weight'].data.fill(0);
    const r = Float64Array.from({ length: H }, (_, j) => (j + 1) / (H + 1)); // r_j = σ(b_xr_j), distinct per unit
    r.forEach((rj, j) => (p['gru.W_xr.bias'].data[j] = Math.log(rj / (1 - rj))));
    const x = new Rng(6).normals(I);
    const h0 = Float64Array.from({ length: H }, (_, k) => Math.cos(k));
    const out = referenceForward(p, x, 1, 1, h0);
    const { data: Wxh } = p['gru.W_xh.weight'];
    const { data: Whh } = p['gru.W_hh.weight'];
    for (let j = 0; j < H; j++) {
      let s = p['gru.W_xh.bias'].data[j]!;
      for (let i = 0; i < I; i++) s += Wxh[j * I + i]! * x[i]!;
      // r as stored in float32 (the bias is), so the check is exact to float64 rounding.
      for (let k = 0; k < H; k++) s += Whh[j * H + k]! * (1 / (1 + Math.exp(-p['gru.W_xr.bias'].data[k]!))) * h0[k]!;
      expect(out.hN[j]).toBeCloseTo(Math.tanh(s), 12);
    }
  });

  it("matches PyTorch's own logits for the seed's MyModel (fixtures/seed-pytorch, batch 1 and 3, seq 1 to 37)", () => {
    const params = loadCheckpoint(SEED_PYTORCH('model.safetensors')).params;
    const cases = decodeSafetensors(readFileSync(SEED_PYTORCH('model.cases.safetensors'))).tensors;
    let checked = 0;
    for (const [name, x] of cases) {
      if (!name.startsWith('x_')) continue;
      const want = cases.get(name.replace('x_', 'logits_'))!;
      const [B, T] = x.shape as [number, number];
      const got = referenceForward(params, x.data, B, T).logits;
      expect(got).toHaveLength(want.data.length);
      got.forEach((v, i) => expect(Math.abs(v - want.data[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5));
      checked++;
    }
    expect(checked).toBe(6);
  });

  it('lays hidden_states out as [batch, seq, hidden]: step t of row b is h_T of that row alone, cut at t', () => {
    const p = randomSeedParams(8);
    const [B, T, I, H] = [3, 5, 8, 16];
    const x = new Rng(9).normals(B * T * I);
    const h0 = Float64Array.from({ length: B * H }, (_, i) => Math.sin(i));
    const all = referenceForward(p, x, B, T, h0);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const prefix = x.subarray(b * T * I, (b * T + t + 1) * I);
        const alone = referenceForward(p, prefix, 1, t + 1, h0.subarray(b * H, (b + 1) * H));
        expect([...all.hiddenStates.subarray((b * T + t) * H, (b * T + t + 1) * H)]).toEqual([...alone.hN]);
        if (t === T - 1) {
          expect([...all.hN.subarray(b * H, (b + 1) * H)]).toEqual([...alone.hN]);
          expect([...all.logits.subarray(b * 4, (b + 1) * 4)]).toEqual([...alone.logits]);
        }
      }
    }
  });

  it('refuses x and h0 of the wrong length, saying what it expected', () => {
    const p = randomSeedParams(1);
    expect(() => referenceForward(p, new Float32Array(15), 1, 2)).toThrow('x has 15 values, expected 1×2×8');
    expect(() => referenceForward(p, new Float32Array(16), 1, 2, new Float32Array(15))).toThrow('h0 has 15 values, expected 1×16');
  });
});
