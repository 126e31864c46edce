import { readFileSync, statSync, type Stats } from 'node:fs';
import { UserError } from './errors.ts';

/**
 * Every size limit gru-onnx enforces on the files it reads, in one place. Each is checked before the memory it
 * guards is allocated (file sizes before reading, declared shapes before any tensor), so a hostile file declaring
 * a hidden size of 10⁹ fails in milliseconds with a one-line error instead of exhausting memory. The limits sit
 * far above any GRU classifier (the seed's checkpoint is 2 KB) and below Node's own Buffer and typed-array limits.
 */
export const LIMITS = Object.freeze({
  /** Largest safetensors checkpoint or state_dict read, bytes (2 GiB: Node's Buffer limit). */
  safetensorsFileBytes: 2 ** 31,
  /** Largest safetensors JSON header, bytes (the reference implementation's limit). */
  safetensorsHeaderBytes: 100_000_000,
  /** Largest tensor in a safetensors file, elements (2^29 float32 = 2 GiB). */
  safetensorsTensorElements: 2 ** 29,
  /** Most dimensions of a safetensors tensor. */
  safetensorsRank: 8,
  /** Largest tfjs model.json or weight file, bytes (1 GiB). */
  tfjsFileBytes: 2 ** 30,
  /** Largest .onnx model read, bytes (2 GiB − 1: protobuf's own limit). */
  onnxFileBytes: 2 ** 31 - 1,
  /** Largest file in a bundle (model.onnx, input_K.pb, output_K.pb), bytes (1 GiB). */
  bundleFileBytes: 2 ** 30,
  /** Largest tensor in a bundle's .pb files, elements (2^28 float32 = 1 GiB). */
  bundleTensorElements: 2 ** 28,
  /** Most values in one input verify generates (2^26 float32 = 256 MiB; the default sweep's largest is 64×257×I). */
  generatedInputElements: 2 ** 26,
  /** Largest batch or sequence length in --shapes. */
  sweepDim: 65_536,
});

/**
 * Reads a whole file after checking, without reading it, that it is a regular file of at most `limitBytes`:
 * a 3 GB download or a directory is a one-line UserError naming `what`, not an ERR_FS_FILE_TOO_LARGE.
 */
export function readFileWithin(path: string, limitBytes: number, what: string): Uint8Array {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read ${what} (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`);
  }
  if (!st.isFile()) throw new UserError(`${path}: ${what} is not a file`);
  if (st.size > limitBytes) throw new UserError(`${path}: ${what} is ${st.size} bytes, more than the ${limitBytes}-byte limit`);
  return readFileSync(path);
}
