import { describe, expect, it } from 'vitest';
import { transposeMatrix } from './matrix.ts';

describe('transposeMatrix', () => {
  it('turns [rows, cols] into [cols, rows]', () => {
    expect([...transposeMatrix(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3)]).toEqual([1, 4, 2, 5, 3, 6]);
    expect([...transposeMatrix(Float32Array.of(1, 2, 3, 4, 5, 6), 3, 2)]).toEqual([1, 3, 5, 2, 4, 6]);
  });
});
