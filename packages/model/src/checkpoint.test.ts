import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, sha256Hex, type Checkpoint } from './checkpoint.ts';
import { SEED_CONFIG } from './config.ts';
import { UserError } from './errors.ts';
import { initParams } from './init.ts';
import { PARAM_NAMES, type SeedParams } from './params.ts';
import { referenceForward } from './reference.ts';
import { Rng } from './rng.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/model/', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SEED_SCRIPT = fileURLToPath(new URL('../../../tools/fixtures/pytorch_seed.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function seedCheckpoint(seed = 1): Checkpoint {
  return { config: { ...SEED_CONFIG }, params: initParams(SEED_CONFIG, new Rng(seed)), metadata: { training: '{"epochs":20}' } };
}

type Entry = [string, { shape: number[]; data: Float32Array }];
const entries = (p: SeedParams): Entry[] => PARAM_NAMES.map((n) => [n, p[n]]);
const config = JSON.stringify(SEED_CONFIG);

/** Decodes and returns the UserError message, failing the test if it does not throw one. */
function rejection(bytes: Uint8Array): string {
  try {
    decodeCheckpoint(bytes, 'bad.safetensors');
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as UserError).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith('bad.safetensors: ')).toBe(true);
    return msg;
  }
  throw new Error('expected the checkpoint to be rejected');
}

/** Rewrites the JSON header of a valid file (keeping its data), with a correct length field. */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

describe('checkpoint round trip', () => {
  it('is bit-exact, including -0, subnormals and extremes', () => {
    const ckpt = seedCheckpoint();
    const special = [-0, 1e-45, -3.4028234663852886e38, 1.1754943508222875e-38];
    special.forEach((v, i) => (ckpt.params['fc.bias'].data[i] = v));
    const bytes = encodeCheckpoint(ckpt);
    const back = decodeCheckpoint(bytes);
    expect(back.config).toEqual(SEED_CONFIG);
    expect(back.metadata.training).toBe('{"epochs":20}');
    expect(JSON.parse(back.metadata.config!)).toEqual(SEED_CONFIG);
    for (const n of PARAM_NAMES) {
      expect(back.params[n].shape).toEqual(ckpt.params[n].shape);
      expect(Buffer.from(back.params[n].data.buffer).equals(Buffer.from(ckpt.params[n].data.buffer))).toBe(true);
    }
    expect(Object.is(back.params['fc.bias'].data[0], -0)).toBe(true);
    // Encoding the decoded checkpoint reproduces the file byte for byte.
    expect(Buffer.from(encodeCheckpoint(back)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('writes the real safetensors layout: u64 LE header length, 8-aligned JSON header, tensors in PARAM_NAMES order', () => {
    const bytes = encodeCheckpoint(seedCheckpoint());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...PARAM_NAMES]);
    expect(header['gru.W_xz.weight']).toEqual({ dtype: 'F32', shape: [16, 8], data_offsets: [0, 512] });
    // First weight, read straight from the bytes as little-endian F32.
    const ckpt = decodeCheckpoint(bytes);
    expect(new DataView(bytes.buffer).getFloat32(8 + n, true)).toBe(ckpt.params['gru.W_xz.weight'].data[0]);
  });

  it('saves atomically and loads back; sha256Hex is the file digest', () => {
    const path = join(dir, 'model.safetensors');
    const ckpt = seedCheckpoint(7);
    saveCheckpoint(path, ckpt);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const loaded = loadCheckpoint(path);
    expect(Array.from(loaded.params['gru.W_hh.weight'].data)).toEqual(Array.from(ckpt.params['gru.W_hh.weight'].data));
    expect(sha256Hex(readFileSync(path))).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('reports a missing file as a UserError naming it', () => {
    expect(() => loadCheckpoint(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: cannot read checkpoint \(ENOENT\)/);
    expect(() => loadCheckpoint(dir)).toThrow(/: cannot read checkpoint \(EISDIR\)/);
  });
});

describe('the loader rejects each kind of bad file with its own message', () => {
  // Made inside each test: a throw here, at collection, would leave vitest no test to fail.
  const good = () => encodeCheckpoint(seedCheckpoint());

  it('truncated in the data', () => {
    expect(rejection(good().subarray(0, good().length - 10))).toMatch(/tensor 'fc\.bias': data_offsets \[\d+, \d+\] run past the end of the data .*truncated file/);
  });

  it('truncated inside the header length', () => {
    expect(rejection(good().subarray(0, 5))).toMatch(/truncated: 5 bytes, too short for the 8-byte header length/);
  });

  it('a header length longer than the file', () => {
    const bad = Uint8Array.from(good());
    new DataView(bad.buffer).setBigUint64(0, BigInt(good().length), true);
    expect(rejection(bad)).toMatch(new RegExp(`header length says ${good().length} bytes but only ${good().length - 8} follow`));
  });

  it('a header length shorter than the header', () => {
    const bad = Uint8Array.from(good());
    const n = new DataView(bad.buffer).getBigUint64(0, true);
    new DataView(bad.buffer).setBigUint64(0, n - 20n, true);
    expect(rejection(bad)).toMatch(/header is not valid JSON \(.*\): wrong header length or not a safetensors file/);
    // Cutting only into the space padding leaves valid JSON; the data section then has bytes nobody owns.
    new DataView(bad.buffer).setBigUint64(0, n - 2n, true);
    expect(rejection(bad)).toBe('bad.safetensors: 2 bytes after the last tensor are not described by the header (wrong header length, or data appended)');
  });

  it('a shape that does not match the config', () => {
    const p = initParams(SEED_CONFIG, new Rng(2));
    p['gru.W_hr.weight'] = { shape: [16, 15], data: new Float32Array(16 * 15) };
    expect(rejection(encodeSafetensors(entries(p), { config }))).toBe(
      "bad.safetensors: tensor 'gru.W_hr.weight': shape [16, 15] does not match [16, 16] for input 8, hidden 16, output 4",
    );
  });

  it('a config in the metadata that disagrees with the shapes', () => {
    const p = initParams(SEED_CONFIG, new Rng(2));
    expect(rejection(encodeSafetensors(entries(p), { config: JSON.stringify({ ...SEED_CONFIG, hiddenSize: 32 }) }))).toBe(
      'bad.safetensors: __metadata__ config says hiddenSize = 32 but the tensor shapes give 16',
    );
  });

  it('shape × 4 bytes not equal to the data_offsets span', () => {
    const bad = withHeader(good(), (h) => (h['gru.W_xz.bias']!.shape = [15]));
    expect(rejection(bad)).toBe("bad.safetensors: tensor 'gru.W_xz.bias': shape [15] needs 60 bytes of F32 but data_offsets [512, 576] hold 64");
  });

  it('a wrong dtype, named', () => {
    const bad = withHeader(good(), (h) => (h['gru.W_hz.weight']!.dtype = 'F16'));
    expect(rejection(bad)).toBe("bad.safetensors: tensor 'gru.W_hz.weight': dtype F16 is not supported (checkpoints are F32)");
    const unknown = withHeader(good(), (h) => (h['fc.bias']!.dtype = 'float32'));
    expect(rejection(unknown)).toBe(`bad.safetensors: tensor 'fc.bias': unknown dtype "float32"`);
  });

  it('NaN or Inf weights, with the tensor and flat index', () => {
    const p = initParams(SEED_CONFIG, new Rng(3));
    p['gru.W_hh.weight'].data[37] = NaN;
    expect(rejection(encodeSafetensors(entries(p)))).toBe("bad.safetensors: tensor 'gru.W_hh.weight': value NaN at flat index 37 is not finite");
    p['gru.W_hh.weight'].data[37] = 0;
    p['fc.bias'].data[3] = -Infinity;
    expect(rejection(encodeSafetensors(entries(p)))).toBe("bad.safetensors: tensor 'fc.bias': value -Infinity at flat index 3 is not finite");
  });

  it('a missing tensor', () => {
    const p = initParams(SEED_CONFIG, new Rng(4));
    expect(rejection(encodeSafetensors(entries(p).filter(([n]) => n !== 'gru.W_xr.bias')))).toBe("bad.safetensors: missing tensor 'gru.W_xr.bias'");
  });

  it('an extra tensor', () => {
    const p = initParams(SEED_CONFIG, new Rng(5));
    const extra: Entry = ['gru.W_hq.weight', { shape: [2], data: new Float32Array(2) }];
    expect(rejection(encodeSafetensors([...entries(p), extra]))).toMatch(/^bad\.safetensors: unexpected tensor 'gru\.W_hq\.weight' \(a seed checkpoint holds exactly: gru\.W_xz\.weight, /);
  });

  it('overlapping, gapped or trailing data', () => {
    const overlap = withHeader(good(), (h) => (h['gru.W_xz.bias']!.data_offsets = [508, 572]));
    expect(rejection(overlap)).toMatch(/tensor 'gru\.W_xz\.bias': data_offsets \[508, 572\] overlap the previous tensor \(which ends at 512\)/);
    const gap = withHeader(good(), (h) => (h['gru.W_xz.weight']!.data_offsets = [4, 516]));
    expect(rejection(gap)).toMatch(/tensor 'gru\.W_xz\.weight': data_offsets \[4, 516\] leave a gap after byte 0/);
    const trailing = new Uint8Array(good().length + 4);
    trailing.set(good());
    expect(rejection(trailing)).toMatch(/^bad\.safetensors: 4 bytes after the last tensor are not described by the header/);
  });

  it('absurd dimensions, before allocating anything', () => {
    const bad = withHeader(good(), (h) => (h['fc.weight']!.shape = [2 ** 20, 2 ** 20]));
    expect(rejection(bad)).toBe("bad.safetensors: tensor 'fc.weight': shape [1048576,1048576] has more than 536870912 elements");
    const negative = withHeader(good(), (h) => (h['fc.weight']!.shape = [-4, -16]));
    expect(rejection(negative)).toMatch(/tensor 'fc\.weight': shape \[-4,-16\] is not a list of at most 8 non-negative integers/);
  });

  it('a file that is not safetensors at all', () => {
    expect(rejection(new TextEncoder().encode('{"hello": "world", "this is": "json"}'))).toMatch(/header length says \d+ bytes but only \d+ follow/);
  });

  it('keeps __metadata__ strings and rejects non-string values', () => {
    expect(decodeSafetensors(encodeSafetensors([], { a: 'b' })).metadata).toEqual({ a: 'b' });
    const bytes = encodeSafetensors([['t', { shape: [1], data: new Float32Array(1) }]], { a: 'b' });
    const bad = withHeader(bytes, (h) => ((h as Record<string, unknown>).__metadata__ = { a: 1 }));
    expect(() => decodeSafetensors(bad, 'x')).toThrow("x: __metadata__ entry 'a' is not a string");
  });
});

describe('interchange with the seed PyTorch model', () => {
  it('loads the fixture written by the seed code and reproduces its logits with the float64 reference', () => {
    const ckpt = loadCheckpoint(join(FIXTURES, 'pytorch-seed.safetensors'));
    expect(ckpt.config).toEqual(SEED_CONFIG);
    const io = decodeSafetensors(readFileSync(join(FIXTURES, 'pytorch-seed-io.safetensors')));
    const x = io.tensors.get('x')!;
    const want = io.tensors.get('logits')!;
    const [B, T] = x.shape as [number, number, number];
    const got = referenceForward(ckpt.params, x.data, B, T).logits;
    expect(want.shape).toEqual([B, 4]);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want.data[i]!)).toBeLessThanOrEqual(1e-5);
  });

  // Probed when the test runs, not when the file is collected: starting Python costs seconds.
  it('a checkpoint we write loads with MyModel.load_state_dict(strict=True) and gives our reference logits', (ctx) => {
    if (!(existsSync(PYTHON) && spawnOk(PYTHON, ['-c', 'import torch']))) ctx.skip();
    const ckpt = seedCheckpoint(11);
    const path = join(dir, 'ours.safetensors');
    saveCheckpoint(path, ckpt);
    const [B, T, I] = [2, 6, 8];
    const x = new Rng(12).normals(B * T * I);
    const ioPath = join(dir, 'io.safetensors');
    saveIo(ioPath, x, [B, T, I]);
    const out = JSON.parse(execFileSync(PYTHON, [SEED_SCRIPT, 'forward', path, ioPath], { encoding: 'utf8' })) as { names: string[]; logits: number[] };
    expect(out.names).toEqual([...PARAM_NAMES]);
    const ref = referenceForward(ckpt.params, x, B, T).logits;
    expect(out.logits).toHaveLength(ref.length);
    out.logits.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1e-5));
  });
});

function saveIo(path: string, x: Float32Array, shape: number[]): void {
  writeFileSync(path, encodeSafetensors([['x', { shape, data: x }]]));
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
