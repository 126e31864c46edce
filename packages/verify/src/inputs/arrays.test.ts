import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import { dtypeOf } from '../tensor.ts';
import type { Tensor } from '../tensor.ts';
import { readNpy } from './npy.ts';
import { decodeTensorProto, encodeTensorProto } from './tensor-proto.ts';

const DIR = new URL('../../../../fixtures/any-models/arrays/', import.meta.url);
/** What numpy wrote into each file (tools/fixtures/any-models.py): dtype, shape, values (ints as decimal strings, float16 as bits). */
const expected = JSON.parse(readFileSync(new URL('values.json', DIR), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: (string | number | boolean)[] }>;
const names = Object.keys(expected);

const wantDtype = (d: string): string => (d === 'bool' ? 'bool' : d);
/** Element values in the fixture's notation: integers as decimal strings, float16 as bits, bool as booleans. */
function notation(t: Tensor): (string | number | boolean)[] {
  const d = dtypeOf(t);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => (d === 'bool' ? v === 1 : d === 'float16' || d.startsWith('float') ? Number(v) : String(v)));
}

describe('arrays from numpy and onnx', () => {
  it.each(names)('reads %s.npy as numpy wrote it', (name) => {
    const t = readNpy(readFileSync(new URL(`${name}.npy`, DIR)), `${name}.npy`);
    const e = expected[name]!;
    expect(dtypeOf(t)).toBe(wantDtype(e.dtype));
    expect(t.dims).toEqual(e.shape);
    expect(notation(t)).toEqual(e.values);
  });

  it.each(names.flatMap((n) => [[n, 'pb'], [n, 'typed.pb']]))('reads %s.%s (raw_data and the typed fields) as onnx wrote it', (name, ext) => {
    const { name: tensorName, tensor } = decodeTensorProto(readFileSync(new URL(`${name}.${ext}`, DIR)), `${name}.${ext}`);
    const e = expected[name]!;
    expect(tensorName).toBe(name);
    expect(dtypeOf(tensor)).toBe(wantDtype(e.dtype));
    expect(tensor.dims).toEqual(e.shape);
    expect(notation(tensor)).toEqual(e.values);
  });

  it.each(names)('writes %s as the same bytes onnx.numpy_helper writes', (name) => {
    const bytes = readFileSync(new URL(`${name}.pb`, DIR));
    const { tensor } = decodeTensorProto(bytes, name);
    expect(Buffer.from(encodeTensorProto(name, tensor)).equals(bytes)).toBe(true);
  });

  it('refuses big-endian, Fortran-order and truncated .npy with the fix named', () => {
    expect(() => readNpy(readFileSync(new URL('bigendian.npy', DIR)), 'b.npy')).toThrow("b.npy: big-endian .npy ('>f4'); save it with arr.astype('<f4')");
    expect(() => readNpy(readFileSync(new URL('fortran.npy', DIR)), 'f.npy')).toThrow('f.npy: Fortran-order .npy; save it with np.ascontiguousarray(arr)');
    const good = readFileSync(new URL('float32.npy', DIR));
    expect(() => readNpy(good.subarray(0, good.length - 4), 't.npy')).toThrow('t.npy: 20 data bytes, shape (2, 3) float32 needs 24');
    expect(() => readNpy(Buffer.from('hello world'), 'x.npy')).toThrow(UserError);
  });
});
