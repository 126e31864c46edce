import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from './safetensors.ts';

/** A safetensors file from its header JSON and float32 data section, written byte by byte here (not by our encoder). */
function file(header: string, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + 4 * data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  data.forEach((v, i) => view.setFloat32(8 + json.byteLength + 4 * i, v, true));
  return out;
}

describe('decodeSafetensors', () => {
  // The format does not require the header to list tensors in offset order (a JSON object's keys have none), so the
  // data section is walked in offset order whatever order the header lists the tensors in.
  it('reads tensors whose header order differs from their data order, and returns them in data order', () => {
    const bytes = file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [7, 1.5, -2]);
    const t = decodeSafetensors(bytes).tensors;
    expect([...t.keys()]).toEqual(['b', 'a']);
    expect([...t.get('b')!.data]).toEqual([7]);
    expect([...t.get('a')!.data]).toEqual([1.5, -2]);
    expect(t.get('a')!.shape).toEqual([2]);
  });

  it('refuses overlaps and gaps between tensors, by name and offsets', () => {
    const overlap = file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [1, 2]);
    expect(() => decodeSafetensors(overlap, 'f')).toThrow("f: tensor 'b': data_offsets [4, 8] overlap the previous tensor (which ends at 8)");
    const gap = file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [1, 2]);
    expect(() => decodeSafetensors(gap, 'f')).toThrow("f: tensor 'a': data_offsets [4, 8] leave a gap after byte 0");
  });
});
