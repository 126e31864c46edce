import { describe, expect, it } from 'vitest';
import { SEED_CONFIG } from '@gru-onnx/model';
import { fakeParams, signatureOnlyModel } from './fake-runner.ts';
import { DEFAULT_SHAPES, generateCases, readSignature, SATURATING_MAGNITUDE, validateFeeds, validateParams } from './inputs.ts';
import { float32Data } from './tensor.ts';

const sig = readSignature(signatureOnlyModel(SEED_CONFIG, { h0: true }));
const sizes = { inputSize: SEED_CONFIG.inputSize, hiddenSize: SEED_CONFIG.hiddenSize };

describe('inputs', () => {
  it('reads the graph signature', () => {
    expect(sig.inputs.map((v) => v.name)).toEqual(['x', 'h0']);
    expect(sig.inputs[0]!.dims).toEqual(['batch', 'seq', 8]);
    expect(sig.outputs.map((v) => v.name)).toEqual(['logits', 'hidden_states', 'h_n']);
    expect(() => readSignature(Uint8Array.of(0xff, 0xff, 0xff), 'bad.onnx')).toThrow(/bad.onnx: not an ONNX model/);
  });

  it('sweeps batch {1,3,64} × seq {1,10,64,257} plus zeros and saturating edge cases', () => {
    expect(DEFAULT_SHAPES).toHaveLength(12);
    const cases = generateCases(sig, sizes, { seed: 7 });
    expect(cases.map((c) => c.id)).toContain('64x257');
    expect(cases.at(-2)!.kind).toBe('zeros');
    expect(cases.at(-2)!.feeds.x!.data.every((v) => v === 0)).toBe(true);
    const sat = float32Data(cases.at(-1)!.feeds.x!);
    expect(Math.min(...Array.from(sat, Math.abs))).toBeGreaterThanOrEqual(SATURATING_MAGNITUDE / 2);
    expect(cases[0]!.feeds.h0!.dims).toEqual([1, 16]);
  });

  it("an import's h0 is [slots, batch, H] and its c0 [lstmSlots, batch, H]; the seed's h0 and x are unchanged by them", () => {
    const f = (name: string, dims: (number | string)[]) => ({ name, elemType: 'FLOAT', dims });
    const lstm = { inputs: [f('x', ['batch', 'seq', 4]), f('h0', [6, 'batch', 5]), f('c0', [6, 'batch', 5])], outputs: [f('logits', ['batch', 3])] };
    const state = { slots: 6, lstmSlots: 6 };
    const [c, zeros, sat] = generateCases(lstm, { inputSize: 4, hiddenSize: 5, state }, { seed: 7, shapes: [{ batch: 2, seq: 3 }], edgeShape: { batch: 2, seq: 3 } });
    expect([c!.feeds.x!.dims, c!.feeds.h0!.dims, c!.feeds.c0!.dims]).toEqual([[2, 3, 4], [6, 2, 5], [6, 2, 5]]);
    // Drawn, in (−1, 1), and different from each other; all zeros in the zeros case, ±0.99 when saturating.
    const h0 = float32Data(c!.feeds.h0!);
    const c0 = float32Data(c!.feeds.c0!);
    expect(Math.max(...Array.from(h0, Math.abs))).toBeLessThan(1);
    expect(new Set(h0).size).toBeGreaterThan(50);
    expect(c0).not.toEqual(h0);
    expect(zeros!.feeds.c0!.data.every((v) => v === 0)).toBe(true);
    expect(new Set(Array.from(float32Data(sat!.feeds.c0!), Math.abs))).toEqual(new Set([Math.fround(0.99)]));
    // x draws first from the same generator: the seed's own sweep sees the same x with or without states.
    const seedLike = generateCases({ ...lstm, inputs: lstm.inputs.slice(0, 1) }, { inputSize: 4 }, { seed: 7, shapes: [{ batch: 2, seq: 3 }] });
    expect(seedLike[0]!.feeds.x!.data).toEqual(c!.feeds.x!.data);
    // A GRU or RNN import: no c0, and one in the graph is not one of its inputs.
    expect(() => generateCases(lstm, { inputSize: 4, hiddenSize: 5, state: { slots: 6, lstmSlots: 0 } })).toThrow(/model input c0: not one of the model's inputs \(x, h0\)/);
    expect(() => generateCases(lstm, { inputSize: 4, hiddenSize: 5, state: { slots: 4, lstmSlots: 4 } })).toThrow(/model input h0: 6 state slots, but the weights have 4 \(layers · directions\)/);
    expect(() => generateCases(lstm, { inputSize: 4, hiddenSize: 7, state })).toThrow(/model input h0: hidden size 5, but the weights have 7/);
  });

  it('is reproducible from the seed, and the seed matters', () => {
    const a = generateCases(sig, sizes, { seed: 7, shapes: [{ batch: 2, seq: 5 }] });
    const b = generateCases(sig, sizes, { seed: 7, shapes: [{ batch: 2, seq: 5 }] });
    const c = generateCases(sig, sizes, { seed: 8, shapes: [{ batch: 2, seq: 5 }] });
    expect(a[0]!.feeds.x!.data).toEqual(b[0]!.feeds.x!.data);
    expect(a[0]!.feeds.x!.data).not.toEqual(c[0]!.feeds.x!.data);
  });

  it('reports NaN/Inf in user inputs up front with the location', () => {
    const x = new Float32Array(2 * 3 * 8);
    x[1 * 24 + 2 * 8 + 5] = Number.NaN;
    const feeds = { x: { dims: [2, 3, 8], data: x }, h0: { dims: [2, 16], data: new Float32Array(32) } };
    expect(() => validateFeeds(feeds, sig, 'inputs.json')).toThrow('inputs.json: input x: NaN at [1, 2, 5]');
    x[1 * 24 + 2 * 8 + 5] = 0;
    expect(() => validateFeeds(feeds, sig, 'in')).not.toThrow();
    expect(() => validateFeeds({ ...feeds, y: feeds.x }, sig, 'in')).toThrow(/"y" is not a model input/);
    expect(() => validateFeeds({ x: feeds.x }, sig, 'in')).toThrow(/missing model input "h0"/);
    expect(() => validateFeeds({ ...feeds, x: { dims: [2, 3, 4], data: new Float32Array(24) } }, sig, 'in')).toThrow(/shape \[2, 3, 4\], the model declares \[batch, seq, 8\]/);
  });

  it('reports NaN/Inf in weights with the parameter and index', () => {
    const p = fakeParams(SEED_CONFIG);
    p['gru.W_hh.weight'].data[16 * 2 + 3] = Infinity;
    expect(() => validateParams(p)).toThrow('weights: gru.W_hh.weight: Infinity at [2, 3]');
  });
});
