import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import type { ValueSignature } from '../inputs.ts';
import { dtypeOf, float16ToNumber, toNumbers } from '../tensor.ts';
import { drawFeeds, parseDim, parseInputSpec, planInputs } from './spec.ts';

const sig = (name: string, elemType: string, dims: ValueSignature['dims']): ValueSignature => ({ name, elemType, dims });
const inputs = [sig('x', 'FLOAT', ['batch', 576]), sig('sr', 'INT64', []), sig('mask', 'BOOL', ['batch', 4]), sig('h', 'FLOAT16', [2, 3]), sig('u', 'UINT64', [5])];

describe('--input specs', () => {
  it('parses numbers, JSON arrays, files and generators with shapes', () => {
    expect(parseInputSpec('16000', 'w')).toMatchObject({ kind: 'values', value: 16000 });
    expect(parseInputSpec('[[1,2],[3,4]]', 'w')).toMatchObject({ kind: 'values', value: [[1, 2], [3, 4]] });
    expect(parseInputSpec('@a/x.npy', 'w')).toMatchObject({ kind: 'file', path: 'a/x.npy' });
    expect(parseInputSpec('normal(0,0.3):1x576', 'w')).toMatchObject({ kind: 'normal', a: 0, b: 0.3, shape: [1, 576] });
    expect(parseInputSpec('uniform(-1, 1)', 'w')).toMatchObject({ kind: 'uniform', a: -1, b: 1 });
    expect(parseInputSpec('int(0,9):4x7', 'w')).toMatchObject({ kind: 'int', a: 0, b: 9, shape: [4, 7] });
    expect(parseInputSpec('zeros', 'w')).toMatchObject({ kind: 'zeros' });
    expect(parseInputSpec('ones:3', 'w')).toMatchObject({ kind: 'ones', shape: [3] });
  });

  it('refuses a bad spec with one line naming the option', () => {
    expect(() => parseInputSpec('gauss(0,1)', '--input x')).toThrow(/^--input x: 'gauss\(0,1\)' is not a number, JSON array/);
    expect(() => parseInputSpec('uniform(2,1)', '--input x')).toThrow('--input x: uniform(a, b) needs a ≤ b, got 2 > 1');
    expect(() => parseInputSpec('normal(0,1):2xq', '--input x')).toThrow("--input x: shape '2xq' is not AxBxC");
    expect(() => parseInputSpec('@x.csv', '--input x')).toThrow(/must end in \.npy .* or \.pb/);
    expect(() => parseInputSpec('int(0.5,2)', '--input x')).toThrow('--input x: int(a, b) needs integer bounds');
    expect(() => parseDim('batch=-1')).toThrow("--dim batch: '-1' is not a non-negative integer");
    expect(() => parseDim('batch')).toThrow("--dim 'batch': expected NAME=VALUE");
  });
});

describe('inputs from a signature', () => {
  it('an unknown dimension is an error naming the input and what to pass', () => {
    expect(() => planInputs(inputs)).toThrow('model input "x" [batch, 576]: axis 0 (batch) has no size; pass --dim batch=N');
    expect(() => planInputs([sig('y', 'FLOAT', [null, 3])])).toThrow('model input "y" [?, 3]: axis 0 (unnamed) has no size; pass --input y=normal(0,1):Nx3');
    expect(() => planInputs([sig('y', 'FLOAT', null)])).toThrow(/model input "y" declares no shape: pass --input y=SPEC:AxB/);
    expect(() => planInputs(inputs, { dims: { batch: 1, seq: 3 } })).toThrow('--dim seq: no input has a dimension named seq (symbolic dimensions: batch)');
  });

  it('refuses a string input and an input that is not in the model', () => {
    expect(() => planInputs([sig('text', 'STRING', [2])])).toThrow('model input "text" is a string tensor: gru-onnx generates numbers only; give its values in a bundle (--bundle DIR)');
    expect(() => planInputs(inputs, { dims: { batch: 1 }, inputs: { nope: parseInputSpec('1', 'w') } })).toThrow('--input nope: the model has no such input (inputs: x, sr, mask, h, u)');
  });

  it('fills each input in its own dtype: defaults named, numbers and arrays as given, generator shapes checked', () => {
    const plans = planInputs(inputs, { dims: { batch: 2 }, inputs: { sr: parseInputSpec('16000', 'w'), u: parseInputSpec('[1,2,3,4,9007199254740991]', 'w') } });
    expect(plans.map((p) => [p.name, p.dtype, p.dims, p.spec])).toEqual([
      ['x', 'float32', [2, 576], 'normal(0,1)'],
      ['sr', 'int64', [], '16000'],
      ['mask', 'bool', [2, 4], 'int(0,1)'],
      ['h', 'float16', [2, 3], 'normal(0,1)'],
      ['u', 'uint64', [5], '[1,2,3,4,9007199254740991]'],
    ]);
    const feeds = drawFeeds(plans, 42, 0);
    expect(feeds.sr!.data).toEqual(BigInt64Array.of(16000n));
    expect(feeds.u!.data).toEqual(BigUint64Array.of(1n, 2n, 3n, 4n, 9007199254740991n));
    expect(dtypeOf(feeds.mask!)).toBe('bool');
    expect(new Set(feeds.mask!.data as Uint8Array)).toEqual(new Set([0, 1]));
    const h = Array.from(feeds.h!.data as Uint16Array, float16ToNumber);
    expect(h.every((v) => Number.isFinite(v) && Math.abs(v) < 6)).toBe(true);
    expect(() => planInputs(inputs, { dims: { batch: 2 }, inputs: { x: parseInputSpec('zeros:3x576', 'w') } })).toThrow('--input x: :3x576 has shape [3, 576], the model declares [batch, 576] with batch=2');
    expect(() => planInputs(inputs, { dims: { batch: 2 }, inputs: { sr: parseInputSpec('1.5', 'w') } })).toThrow('--input sr: 1.5 is not a int64');
    expect(() => planInputs(inputs, { dims: { batch: 2 }, inputs: { mask: parseInputSpec('int(0,3)', 'w') } })).toThrow('--input mask: 3 is not a bool (0 to 1)');
  });

  it('draws reproducibly from (seed, case, input name), and each generator stays in its range', () => {
    const plans = planInputs([sig('a', 'FLOAT', [4000]), sig('b', 'INT32', [4000]), sig('c', 'FLOAT', [4000])], {
      inputs: { a: parseInputSpec('uniform(-2,3)', 'w'), b: parseInputSpec('int(-3,4)', 'w'), c: parseInputSpec('normal(10,0.5)', 'w') },
    });
    const f0 = drawFeeds(plans, 7, 0);
    expect(drawFeeds(plans, 7, 0)).toEqual(f0);
    expect(drawFeeds(plans, 7, 1).a).not.toEqual(f0.a);
    expect(drawFeeds(plans, 8, 0).a).not.toEqual(f0.a);
    // An input's values do not depend on which other inputs the model has.
    expect(drawFeeds(plans.slice(0, 1), 7, 0).a).toEqual(f0.a);
    const a = toNumbers(f0.a!);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...a)).toBeLessThan(3);
    expect(new Set(toNumbers(f0.b!))).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3, 4]));
    const c = toNumbers(f0.c!);
    const mean = c.reduce((s, v) => s + v, 0) / c.length;
    const sd = Math.sqrt(c.reduce((s, v) => s + (v - mean) ** 2, 0) / c.length);
    expect(mean).toBeCloseTo(10, 1);
    expect(sd).toBeCloseTo(0.5, 1);
  });

  it('reads files in the dtype the model takes, and refuses another dtype with the conversion named', () => {
    const url = (f: string) => new URL(`../../../../fixtures/any-models/arrays/${f}`, import.meta.url).pathname;
    const plans = planInputs([sig('sr', 'INT64', []), sig('m', 'BOOL', [2, 2])], { inputs: { sr: parseInputSpec(`@${url('scalar_int64.npy')}`, 'w'), m: parseInputSpec(`@${url('bool.pb')}`, 'w') } });
    const feeds = drawFeeds(plans, 1, 0);
    expect(feeds.sr!.data).toEqual(BigInt64Array.of(16000n));
    expect(Array.from(feeds.m!.data as Uint8Array)).toEqual([1, 0, 0, 1]);
    expect(() => planInputs([sig('x', 'FLOAT', [2, 3])], { inputs: { x: parseInputSpec(`@${url('float64.npy')}`, 'w') } })).toThrow(/holds float64, the model's input is float32; convert it \(NumPy: arr.astype\(np.float32\)\)/);
    expect(() => planInputs([sig('x', 'FLOAT', [2, 3])], { inputs: { x: parseInputSpec('@missing.npy', 'w') } })).toThrow(UserError);
  });
});
