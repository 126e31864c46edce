import { describe, expect, it } from 'vitest';
import { SEED_CONFIG } from './config.ts';
import { randomParams } from './init.ts';
import type { SeedParams } from './params.ts';
import { referenceForward } from './reference.ts';
import { Rng } from './rng.ts';

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
});
