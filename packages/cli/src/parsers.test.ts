import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { floatArg, intArg, parseBackends, parseShapes } from './parsers.ts';

describe('intArg', () => {
  const epochs = intArg(1, 100);
  it('accepts integers in range', () => {
    expect(epochs('1')).toBe(1);
    expect(epochs('100')).toBe(100);
    expect(epochs(' 7 ')).toBe(7);
  });
  it.each(['0', '-1', '101', '1.5', '1e2', 'abc', '', '0x10', '9007199254740993'])('refuses %j', (v) => {
    expect(() => epochs(v)).toThrow(InvalidArgumentError);
    expect(() => epochs(v)).toThrow('Must be an integer from 1 to 100');
  });
});

describe('floatArg', () => {
  it('accepts finite numbers in range, including exponent notation', () => {
    expect(floatArg(0, 1)('1e-5')).toBe(1e-5);
    expect(floatArg(0, 1)('0')).toBe(0);
  });
  it('honours an exclusive minimum', () => {
    expect(() => floatArg(0, 10, { exclusiveMin: true })('0')).toThrow('greater than 0');
    expect(floatArg(0, 10, { exclusiveMin: true })('0.001')).toBe(0.001);
  });
  it.each(['-1e-9', '2', 'NaN', 'Infinity', '', 'x'])('refuses %j', (v) => {
    expect(() => floatArg(0, 1)(v)).toThrow(InvalidArgumentError);
  });
});

describe('parseShapes', () => {
  it('parses BxT lists', () => {
    expect(parseShapes('1x10,64X257, 3 x 1')).toEqual([
      { batch: 1, seq: 10 },
      { batch: 64, seq: 257 },
      { batch: 3, seq: 1 },
    ]);
    // An empty x is a shape every export must handle.
    expect(parseShapes('0x3,3x0')).toEqual([
      { batch: 0, seq: 3 },
      { batch: 3, seq: 0 },
    ]);
  });
  it.each([
    ['3', 'is not BxT'],
    ['1x10,', 'is not BxT'],
    ['1x10,1x10', 'listed twice'],
    ['-1x3', 'is not BxT'],
    ['1x65537', 'sequence length must be from 0 to 65536'],
    ['65537x1', 'batch must be from 0 to 65536'],
  ])('refuses %j', (v, msg) => {
    expect(() => parseShapes(v)).toThrow(msg);
  });
});

describe('parseBackends', () => {
  it('parses names and all', () => {
    expect(parseBackends('ort-cpu, ort-wasm')).toEqual(['ort-cpu', 'ort-wasm']);
    expect(parseBackends('all')).toContain('browser-webgpu');
  });
  it('refuses unknown and repeated names', () => {
    expect(() => parseBackends('nope')).toThrow("unknown backend 'nope'");
    expect(() => parseBackends('ort-cpu,ort-cpu')).toThrow('listed twice');
    expect(() => parseBackends('ort-cpu,all')).toThrow("unknown backend 'all'");
  });
});
