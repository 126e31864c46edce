import { UserError } from './errors.ts';
import { LIMITS } from './limits.ts';

/**
 * The safetensors format (https://github.com/huggingface/safetensors), as PyTorch's ecosystem reads it:
 *
 *   [8 bytes: header length N, u64 little-endian][N bytes: JSON header][raw little-endian tensor data]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the
 * start of the data section) and may hold `__metadata__`, a string → string map. Only F32 tensors are read or
 * written here: our checkpoints are float32, and any other dtype is reported by name rather than converted.
 */

/** Largest file we accept (2 GiB): far above any GRU checkpoint, and below Node's Buffer limits. */
export const MAX_FILE_BYTES = LIMITS.safetensorsFileBytes;
/** Largest header we parse (100 MB, the limit of the reference implementation). */
export const MAX_HEADER_BYTES = LIMITS.safetensorsHeaderBytes;
/** Largest tensor, in elements (2^29 F32 values = 2 GiB, the file limit). */
export const MAX_TENSOR_ELEMENTS = LIMITS.safetensorsTensorElements;
/** Most dimensions a tensor may have. */
export const MAX_RANK = LIMITS.safetensorsRank;

/** Every dtype name the format defines, so a file with another one is told what it has. */
const KNOWN_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64']);

export interface SafetensorsFile {
  /** Tensors in the order of their data offsets. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON.stringify for error messages, shortened so the message stays one readable line. */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Parses a safetensors file. Everything is checked before any tensor is allocated: the header length against
 * the file size, the JSON, each dtype (F32 only), shape and offsets (in bounds, contiguous, non-overlapping,
 * covering the data section exactly) and shape × 4 = byte length. `source` prefixes every message.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`);
  };
  if (bytes.byteLength > MAX_FILE_BYTES) fail(`file is ${bytes.byteLength} bytes, more than the ${MAX_FILE_BYTES}-byte limit`);
  if (bytes.byteLength < 8) fail(`truncated: ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  const available = BigInt(bytes.byteLength - 8);
  if (headerLen > available) fail(`header length says ${headerLen} bytes but only ${available} follow: truncated file or corrupt header length`);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header is ${headerLen} bytes, more than the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    fail(`header is not valid JSON (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): wrong header length or not a safetensors file`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) fail('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ entry '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (msg: string): never => fail(`tensor '${name}': ${msg}`);
    if (!isPlainObject(value)) bad('header entry is not an object');
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') bad('dtype is missing');
    if (!KNOWN_DTYPES.has(dtype as string)) bad(`unknown dtype ${show(dtype)}`);
    if (dtype !== 'F32') bad(`dtype ${dtype as string} is not supported (checkpoints are F32)`);
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`shape ${show(shape)} is not a list of at most ${MAX_RANK} non-negative integers`);
    }
    const dims = shape as number[];
    // Multiply with an early exit so that huge dimensions cannot overflow the check.
    let elements = 1;
    for (const d of dims) {
      elements *= d;
      if (elements > MAX_TENSOR_ELEMENTS) bad(`shape ${show(dims)} has more than ${MAX_TENSOR_ELEMENTS} elements`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(`data_offsets ${show(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) bad(`data_offsets [${begin}, ${end}] end before they begin`);
    if (end - begin !== elements * 4) bad(`shape ${show(dims)} needs ${elements * 4} bytes of F32 but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    entries.push({ name, shape: dims, begin, end });
  }

  // The data section must be covered exactly, in order: no gaps, no overlaps, nothing past the end.
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin < expected) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${expected})`);
    if (e.begin > expected) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${expected}`);
    if (e.end > dataLen) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] run past the end of the data (${dataLen} bytes): truncated file`);
    expected = e.end;
  }
  if (expected !== dataLen) fail(`${dataLen - expected} bytes after the last tensor are not described by the header (wrong header length, or data appended)`);

  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of entries) tensors.set(e.name, { shape: e.shape, data: float32FromLittleEndian(bytes.subarray(dataStart + e.begin, dataStart + e.end)) });
  return { tensors, metadata };
}

/**
 * Little-endian float32 bytes (safetensors' byte order) as a fresh Float32Array. On a little-endian host a copy
 * into an aligned buffer (the file's data need not be 4-byte aligned, and a Node Buffer's slice() would share
 * and expose its whole pooled ArrayBuffer); on a big-endian one, value by value. `hostLittleEndian` is for tests.
 */
export function float32FromLittleEndian(src: Uint8Array, hostLittleEndian = littleEndianHost): Float32Array {
  if (hostLittleEndian) return new Float32Array(Uint8Array.from(src).buffer);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const data = new Float32Array(src.byteLength / 4);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
  return data;
}

/** `data` as little-endian bytes into `out` at `pos`; `hostLittleEndian` is for tests. */
export function float32ToLittleEndian(data: Float32Array, out: Uint8Array, pos: number, hostLittleEndian = littleEndianHost): void {
  if (hostLittleEndian) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i]!, true);
}

/**
 * Writes F32 tensors in the given order, header padded with spaces to a multiple of 8 bytes (as the reference
 * writer does, so the data section is aligned).
 */
export function encodeSafetensors(
  tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const list = [...tensors];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new UserError(`tensor name '__metadata__' is reserved`);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new UserError(`tensor '${name}': shape [${t.shape.join(', ')}] needs ${elements} values, has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * elements] };
    offset += 4 * elements;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const [, t] of list) {
    float32ToLittleEndian(t.data, out, pos);
    pos += t.data.byteLength;
  }
  return out;
}
