import { UserError } from '@gru-onnx/model';
import type { DType, Tensor } from '../tensor.ts';
import { byteSize, elementCount, fromLittleEndianBytes } from '../tensor.ts';
import { MAX_TENSOR_ELEMENTS } from './tensor-proto.ts';

/**
 * NumPy's .npy format (versions 1–3): magic `\x93NUMPY`, a version, a header length, then a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` and the row-major data. Reads every dtype
 * onnxruntime takes except strings; big-endian and Fortran-order arrays are refused with the fix named.
 */
const DESCR: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function readNpy(bytes: Uint8Array, source: string): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new UserError(`${source}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLen, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (major < 1 || major > 3 || start + headerLen > bytes.length) throw new UserError(`${source}: unsupported .npy version ${major} or truncated header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([<>|=]?)([a-zA-Z]\d*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeText) throw new UserError(`${source}: .npy header is not a dict with descr, fortran_order and shape: ${header.trim()}`);
  const [, order, code] = descr;
  const dtype = DESCR[code!];
  if (!dtype) throw new UserError(`${source}: .npy dtype '${order}${code}' is not one onnxruntime takes (save it as float32, float16, float64, int8–64, uint8–64 or bool)`);
  if (order === '>' && byteSize(dtype) > 1) throw new UserError(`${source}: big-endian .npy ('>${code}'); save it with arr.astype('<${code}')`);
  if (fortran[1] === 'True') throw new UserError(`${source}: Fortran-order .npy; save it with np.ascontiguousarray(arr)`);
  const dims = shapeText[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new UserError(`${source}: bad .npy shape (${shapeText[1]})`);
  const n = elementCount(dims);
  if (n > MAX_TENSOR_ELEMENTS) throw new UserError(`${source}: ${n} elements, over the ${MAX_TENSOR_ELEMENTS} limit`);
  const payload = bytes.subarray(start + headerLen);
  const need = n * byteSize(dtype);
  if (payload.length !== need) throw new UserError(`${source}: ${payload.length} data bytes, shape (${dims.join(', ')}) ${dtype} needs ${need}`);
  return fromLittleEndianBytes(dtype, dims, payload);
}
