import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bfloat16ToNumber, float16ToNumber, fromNumbers, numberToBfloat16, numberToFloat16, toNumbers } from './tensor.ts';

/** numpy's own float16 bits for each value (tools/fixtures/any-models.py: np.float64 → astype(np.float16)). */
const table = JSON.parse(readFileSync(new URL('../../../fixtures/any-models/float16.json', import.meta.url), 'utf8')) as { values: (number | string)[]; bits: number[] };
/** Python writes non-finite floats as 'nan' and 'inf'. */
const values = table.values.map((v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v)));

describe('float16', () => {
  it("rounds every value to the bits numpy's astype(float16) gives (nearest even, subnormals, overflow, NaN)", () => {
    const got = values.map(numberToFloat16);
    const wrong = got.map((b, i) => [values[i], b, table.bits[i]]).filter(([, b, want]) => b !== want && !(Number.isNaN(float16ToNumber(b!)) && Number.isNaN(float16ToNumber(want!))));
    expect(wrong).toEqual([]);
    expect(table.bits.length).toBeGreaterThan(300);
  });

  it('decodes bits to the value they stand for: every finite half survives the round trip', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = float16ToNumber(h);
      if (Number.isNaN(v)) continue;
      expect(numberToFloat16(v)).toBe(h);
    }
    expect(float16ToNumber(0x3c00)).toBe(1);
    expect(float16ToNumber(0x7bff)).toBe(65504);
  });

  it('bfloat16 is the top half of a float32, rounded to nearest even', () => {
    expect(bfloat16ToNumber(0x3f80)).toBe(1);
    expect(numberToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // a tie: stays even
    expect(numberToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82); // a tie: rounds up to even
    expect(bfloat16ToNumber(numberToBfloat16(-3.5))).toBe(-3.5);
  });

  it('fromNumbers/toNumbers keep int64 and uint64 exact through BigInt arrays and turn bool into 0/1', () => {
    const t = fromNumbers('int64', [2], [-5, 2 ** 53]);
    expect(t.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(toNumbers(t))).toEqual([-5, 2 ** 53]);
    expect(Array.from(fromNumbers('bool', [3], [0, 2, -1]).data as Uint8Array)).toEqual([0, 1, 1]);
    expect(Array.from(fromNumbers('int8', [2], [1.9, -1.9]).data as Int8Array)).toEqual([1, -1]);
  });
});
