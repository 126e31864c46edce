import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, float32FromLittleEndian, float32ToLittleEndian } from './safetensors.ts';

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

  it('refuses each malformed header entry with a message naming the tensor and what is wrong', () => {
    const msg = (header: string, data: number[] = []) => {
      try {
        decodeSafetensors(file(header, data), 'f');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(msg('[]')).toBe('f: header is not a JSON object');
    expect(msg('null')).toBe('f: header is not a JSON object');
    expect(msg('{"a":null}')).toBe("f: tensor 'a': header entry is not an object");
    // Every dtype the format defines is named as unsupported; anything else is unknown.
    for (const dtype of ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F64', 'I64', 'U64']) {
      expect(msg(`{"a":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,4]}}`, [1])).toBe(`f: tensor 'a': dtype ${dtype} is not supported (checkpoints are F32)`);
    }
    expect(msg('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', [1])).toBe(`f: tensor 'a': unknown dtype "F33"`);
    // A value of exactly 60 characters is shown whole.
    const sixty = `[${[...Array(28).fill(1), 10].join(',')}]`;
    expect(sixty).toHaveLength(60);
    expect(msg(`{"a":{"dtype":"F32","shape":[1],"data_offsets":${sixty}}}`, [1])).toBe(`f: tensor 'a': data_offsets ${sixty} is not [begin, end]`);
    expect(msg('{"__metadata__":5}')).toBe('f: __metadata__ is not an object of strings');
    expect(msg('{"a":5}')).toBe("f: tensor 'a': header entry is not an object");
    expect(msg('{"a":{"shape":[1],"data_offsets":[0,4]}}', [1])).toBe("f: tensor 'a': dtype is missing");
    expect(msg('{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}', [1])).toBe(`f: tensor 'a': shape "1" is not a list of at most 8 non-negative integers`);
    expect(msg('{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}', [1])).toMatch(/shape \[1,1,1,1,1,1,1,1,1\] is not a list of at most 8/);
    expect(msg('{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}', [1])).toBe('accepted');
    expect(msg('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', [1])).toMatch(/shape \[-1\] is not a list/);
    expect(msg('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', [1])).toMatch(/shape \[1.5\] is not a list/);
    expect(msg('{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}', [1])).toMatch(/shape \[2,-1\] is not a list/);
    expect(msg(`{"a":{"dtype":"F32","shape":[${2 ** 29 + 1}],"data_offsets":[0,4]}}`, [1])).toBe(`f: tensor 'a': shape [${2 ** 29 + 1}] has more than ${2 ** 29} elements`);
    expect(msg(`{"a":{"dtype":"F32","shape":[${2 ** 29}],"data_offsets":[0,4]}}`, [1])).toMatch(/needs 2147483648 bytes of F32 but data_offsets \[0, 4\] hold 4$/);
    expect(msg('{"a":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}', [1])).toBe(`f: tensor 'a': data_offsets "0-4" is not [begin, end]`);
    expect(msg('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', [1])).toMatch(/data_offsets \[0,4,8\] is not \[begin, end\]$/);
    expect(msg('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', [1])).toMatch(/data_offsets \[-4,0\] is not/);
    expect(msg('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}', [1])).toMatch(/data_offsets \[0.5,4\] is not/);
    expect(msg('{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', [1])).toBe("f: tensor 'a': data_offsets [8, 4] end before they begin");
    // A long value is shortened so the message stays one readable line.
    expect(msg(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[${Array(30).fill(0).join(',')}]}}`, [1])).toBe(`f: tensor 'a': data_offsets [${Array(28).fill(0).join(',')},... is not [begin, end]`);
    expect(msg('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')).toBe('accepted');
    // Invalid UTF-8 in the header is not read as replacement characters.
    const bad = file('{"a":1}', []);
    bad[10] = 0xff;
    expect(() => decodeSafetensors(bad, 'f')).toThrow(/^f: header is not valid JSON \(/);
    // Exactly 8 bytes is long enough to hold the header length (of 0): the JSON is then what is wrong.
    expect(() => decodeSafetensors(new Uint8Array(8), 'f')).toThrow('f: header is not valid JSON (Unexpected end of JSON input): wrong header length or not a safetensors file');
    expect(() => decodeSafetensors(new Uint8Array(7), 'f')).toThrow('f: truncated: 7 bytes, too short for the 8-byte header length');
  });

  it('refuses a file or header over its limit before reading it', () => {
    const huge = { byteLength: 2 ** 31 + 1 } as Uint8Array;
    expect(() => decodeSafetensors(huge, 'f')).toThrow(`f: file is ${2 ** 31 + 1} bytes, more than the ${2 ** 31}-byte limit`);
    // At the limit itself the size check passes (this stand-in has no bytes, so reading it fails otherwise).
    expect(() => decodeSafetensors({ byteLength: 2 ** 31 } as Uint8Array, 'f')).toThrow(TypeError);
    expect(() => decodeSafetensors(new Uint8Array(3))).toThrow(/^safetensors: truncated/);
    const head = new Uint8Array(8 + 100_000_001);
    new DataView(head.buffer).setBigUint64(0, 100_000_001n, true);
    expect(() => decodeSafetensors(head, 'f')).toThrow('f: header is 100000001 bytes, more than the 100000000-byte limit');
    new DataView(head.buffer).setBigUint64(0, 100_000_000n, true);
    expect(() => decodeSafetensors(head, 'f')).toThrow(/^f: header is not valid JSON/);
  });

  it('orders tensors that start at the same offset by their end (an empty tensor first)', () => {
    const t = decodeSafetensors(file('{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}', [3])).tensors;
    expect([...t.keys()]).toEqual(['a', 'b']);
  });
});

describe('encodeSafetensors', () => {
  it('writes the format byte for byte: header padded with spaces to 8 bytes, data in the given order', () => {
    const header = '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const bytes = encodeSafetensors([['w', { shape: [2], data: Float32Array.of(1.5, -2) }], ['b', { shape: [1], data: Float32Array.of(7) }]], { k: 'v' });
    expect(Buffer.from(bytes).equals(Buffer.from(file(padded, [1.5, -2, 7])))).toBe(true);
    expect(padded.length % 8).toBe(0);
    expect(padded.length).toBeGreaterThan(header.length);
    // No metadata, no __metadata__ key.
    expect(new TextDecoder().decode(encodeSafetensors([]).subarray(8)).trim()).toBe('{}');
  });

  it('refuses the reserved name and data that does not fit the shape', () => {
    expect(() => encodeSafetensors([['__metadata__', { shape: [0], data: new Float32Array(0) }]])).toThrow("tensor name '__metadata__' is reserved");
    expect(() => encodeSafetensors([['t', { shape: [2, 3], data: new Float32Array(5) }]])).toThrow("tensor 't': shape [2, 3] needs 6 values, has 5");
  });

  it('converts to and from little-endian bytes the same way on either kind of host', () => {
    const data = Float32Array.of(1.5, -2, 3e-8, Number.NaN);
    for (const host of [true, false]) {
      const out = new Uint8Array(4 + 16);
      float32ToLittleEndian(data, out, 4, host);
      expect([...out.subarray(4, 8)]).toEqual([0, 0, 0xc0, 0x3f]); // 1.5 = 0x3fc00000, little-endian
      expect(out.subarray(0, 4).every((b) => b === 0)).toBe(true);
      const back = float32FromLittleEndian(out.subarray(4), host);
      expect(back).toEqual(data);
      expect(back.byteOffset).toBe(0);
    }
  });
});
