/**
 * Every form of an imported model against the framework itself: the PyTorch nn.GRU fixtures (fixtures/pytorch,
 * fixtures/pytorch-heads: PyTorch's own outputs) exported fused, scan and auto, within 1e-5; and the state I/O
 * (h0, hidden_states, h_n) checked against PyTorch's equations in float64, written here from the state_dict (gate
 * order r, z, n), not from the ONNX layout, and anchored to PyTorch's own logits first.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { loadSourceModel, Rng, type PytorchGru, type PytorchHead } from '@gru-onnx/model';
import { exportSourceModel } from '@gru-onnx/onnx';
import { createRunner, loadBundle, verifyModel } from '@gru-onnx/verify';
import { FIXTURES, fixtureCases, summary, verifyOnOrt } from './imports-helpers.ts';

const FORMS = ['fused', 'scan', 'auto'] as const;
const PYTORCH = ['l1-uni-bf', 'l1-bi-tf', 'l2-uni-tf', 'l2-bi-bf', 'l3-bi-tf'];

function loadGru(path: string, head?: PytorchHead): PytorchGru {
  const m = loadSourceModel(path, undefined, head ? { head } : {});
  if (m.kind !== 'pytorch-gru') throw new Error(`detected as ${m.kind}`);
  return m;
}

describe.each(FORMS)('PyTorch nn.GRU fixtures, form %s, against PyTorch on ort-cpu and ort-wasm (1e-5 abs)', (form) => {
  it.each(PYTORCH)('%s', async (name) => {
    const m = loadGru(`${FIXTURES}pytorch/${name}.safetensors`, 'final-state');
    const cases = fixtureCases(`${FIXTURES}pytorch/${name}.cases.safetensors`, m.batchFirst!);
    const report = await verifyOnOrt(exportSourceModel(m, { form }), cases);
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
      ['ort-cpu', 'pass', cases.length],
      ['ort-wasm', 'pass', cases.length],
    ]);
  });

  const heads: [string, PytorchHead | undefined][] = [['bi2-final-state', 'final-state'], ['bi2-last-step', 'last-step'], ['bi2-mean', 'mean'], ['uni2', undefined], ['seqfirst-bi1-last-step', 'last-step']];
  it.each(heads)('pytorch-heads %s: every captured length, 200 and batch 0 included', async (name, head) => {
    const dir = `${FIXTURES}pytorch-heads/`;
    const report = await verifyModel({
      bundle: loadBundle(`${dir}${name}.capture`, exportSourceModel(loadGru(`${dir}${name}.safetensors`, head), { form })),
      runners: ['ort-cpu'],
      createRunner: (b) => createRunner(b),
      override: { atol: 1e-5, rtol: 0 },
    });
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([['ort-cpu', 'pass', 5]]);
  });
});

/**
 * PyTorch's nn.GRU in float64, batch-first, from the state_dict:
 * r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
 * h' = (1 − z) ⊙ n + z ⊙ h. Returns out [batch, seq, dirs·H] of the last layer and h_n [layers·dirs, batch, H].
 */
function torchGru(m: PytorchGru, x: Float32Array, batch: number, seq: number, h0: Float32Array): { out: Float64Array; hN: Float64Array; logits: Float64Array } {
  const H = m.hiddenSize;
  const dirs = m.bidirectional ? 2 : 1;
  const hN = new Float64Array(m.numLayers * dirs * batch * H);
  let input = Float64Array.from(x);
  let inSize = m.inputSize;
  m.layers.forEach((layer, k) => {
    const out = new Float64Array(batch * seq * dirs * H);
    layer.directions.forEach((d, dir) => {
      const slot = k * dirs + dir;
      for (let b = 0; b < batch; b++) {
        let h = Array.from({ length: H }, (_, u) => h0[(slot * batch + b) * H + u]!);
        for (let step = 0; step < seq; step++) {
          const t = dir === 0 ? step : seq - 1 - step;
          const xt = input.subarray((b * seq + t) * inSize, (b * seq + t + 1) * inSize);
          const gi = (row: number) => d.bIh[row]! + xt.reduce((a, v, i) => a + d.wIh[row * inSize + i]! * v, 0);
          const gh = (row: number) => d.bHh[row]! + h.reduce((a, v, i) => a + d.wHh[row * H + i]! * v, 0);
          const sig = (a: number) => 1 / (1 + Math.exp(-a));
          h = h.map((hu, u) => {
            const r = sig(gi(u) + gh(u));
            const z = sig(gi(H + u) + gh(H + u));
            const n = Math.tanh(gi(2 * H + u) + r * gh(2 * H + u));
            return (1 - z) * n + z * hu;
          });
          h.forEach((v, u) => (out[(b * seq + t) * dirs * H + dir * H + u] = v));
        }
        h.forEach((v, u) => (hN[(slot * batch + b) * H + u] = v));
      }
    });
    input = out;
    inSize = dirs * H;
  });
  // fc(cat(h_n[-2], h_n[-1])) for the final-state head.
  const F = dirs * H;
  const logits = new Float64Array(batch * m.outputSize);
  for (let b = 0; b < batch; b++) for (let o = 0; o < m.outputSize; o++) {
    let v = m.fc.bias[o]!;
    for (let dir = 0; dir < dirs; dir++) for (let u = 0; u < H; u++) v += m.fc.weight[o * F + dir * H + u]! * hN[(((m.numLayers - 1) * dirs + dir) * batch + b) * H + u]!;
    logits[b * m.outputSize + o] = v;
  }
  return { out: input, hN, logits };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('state I/O of an import (h0, hidden_states, h_n) in PyTorch\'s layouts, every form', () => {
  it.each(['l2-bi-bf', 'l3-bi-tf', 'l2-uni-tf'])('%s: the float64 PyTorch equations agree with PyTorch\'s logits, then with every form\'s outputs given a random h0', async (name) => {
    const m = loadGru(`${FIXTURES}pytorch/${name}.safetensors`, 'final-state');
    const dirs = m.bidirectional ? 2 : 1;
    const S = m.numLayers * dirs;
    const H = m.hiddenSize;
    // The reference is PyTorch's own computation: its logits at h0 = 0 match PyTorch's outputs.
    for (const c of fixtureCases(`${FIXTURES}pytorch/${name}.cases.safetensors`, m.batchFirst!)) {
      expect(maxAbs(torchGru(m, c.x, c.batch, c.seq, new Float32Array(S * c.batch * H)).logits, c.expected), c.name).toBeLessThan(1e-5);
    }
    const rng = new Rng(3);
    for (const form of FORMS) {
      const s = await ort.InferenceSession.create(exportSourceModel(m, { form, h0: true, hN: true, hiddenStates: true }));
      for (const [batch, seq] of [[3, 13], [1, 37], [2, 0]] as const) {
        const x = Float32Array.from({ length: batch * seq * m.inputSize }, () => rng.range(-1.5, 1.5));
        const h0 = Float32Array.from({ length: S * batch * H }, () => rng.range(-0.9, 0.9));
        const want = torchGru(m, x, batch, seq, h0);
        const got = await s.run({ x: new ort.Tensor('float32', x, [batch, seq, m.inputSize]), h0: new ort.Tensor('float32', h0, [S, batch, H]) });
        const where = `${form}, batch ${batch}, seq ${seq}`;
        expect(got.hidden_states!.dims, where).toEqual([batch, seq, dirs * H]);
        expect(got.h_n!.dims, where).toEqual([S, batch, H]);
        expect(maxAbs(got.hidden_states!.data as Float32Array, want.out), where).toBeLessThan(1e-5);
        expect(maxAbs(got.h_n!.data as Float32Array, want.hN), where).toBeLessThan(1e-5);
        expect(maxAbs(got.logits!.data as Float32Array, want.logits), where).toBeLessThan(1e-5);
      }
      await s.release();
    }
  });
});
