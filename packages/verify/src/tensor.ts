import { onnx } from '@gru-onnx/onnx';

/**
 * Element types of tensors a model can take or give, named as onnxruntime's JavaScript API names them
 * (`Tensor.type`). float16 and bfloat16 are held as their 16-bit patterns in a Uint16Array (what onnxruntime-node
 * and -web accept without Float16Array), bool as 0/1 bytes, int64/uint64 as BigInt arrays (exact past 2^53), string
 * as a plain array. Data is row-major.
 */
export const DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string'] as const;
export type DType = (typeof DTYPES)[number];

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A tensor of any dtype, row-major. `dtype` may be left out for float32 (the seed model's only type). */
export interface Tensor {
  dims: number[];
  data: TensorData;
  dtype?: DType;
}

/** ONNX TensorProto.DataType numbers for each dtype. */
const ONNX_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int8: onnx.TensorProto.DataType.INT8,
  int16: onnx.TensorProto.DataType.INT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  uint16: onnx.TensorProto.DataType.UINT16,
  uint32: onnx.TensorProto.DataType.UINT32,
  uint64: onnx.TensorProto.DataType.UINT64,
  bool: onnx.TensorProto.DataType.BOOL,
  string: onnx.TensorProto.DataType.STRING,
};

export function onnxTypeOf(dtype: DType): number {
  return ONNX_TYPE[dtype];
}

/** The dtype of an ONNX element type number, or undefined for types no onnxruntime JS API takes (complex, float8). */
export function dtypeOfOnnx(elemType: number): DType | undefined {
  return DTYPES.find((d) => ONNX_TYPE[d] === elemType);
}

/** The dtype named by the ONNX enum name (FLOAT, INT64…), as ValueSignature.elemType carries it. */
export function dtypeOfOnnxName(name: string): DType | undefined {
  const n = (onnx.TensorProto.DataType as unknown as Record<string, number>)[name];
  return n === undefined ? undefined : dtypeOfOnnx(n);
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
export const isBig = (d: DType): boolean => d === 'int64' || d === 'uint64';

/** Bytes per element in raw_data / .npy (string has none). */
export function byteSize(d: DType): number {
  switch (d) {
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'string':
      return 0;
  }
}

/** A zero-filled array of `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
    case 'bfloat16':
    case 'uint16':
      return new Uint16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'string':
      return new Array<string>(n).fill('');
  }
}

/** A tensor's dtype: the one it names, else what its array says (Uint16Array and Uint8Array read as uint16, uint8). */
export function dtypeOf(t: Tensor): DType {
  if (t.dtype) return t.dtype;
  const d = t.data;
  if (d instanceof Float32Array) return 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof Int8Array) return 'int8';
  if (d instanceof Int16Array) return 'int16';
  if (d instanceof Int32Array) return 'int32';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Uint8Array) return 'uint8';
  if (d instanceof Uint16Array) return 'uint16';
  if (d instanceof Uint32Array) return 'uint32';
  if (d instanceof BigUint64Array) return 'uint64';
  return 'string';
}

/** Whether `data` is the array type `dtype` is held in. */
export function holds(dtype: DType, data: TensorData): boolean {
  const probe = allocate(dtype, 0);
  return Array.isArray(probe) ? Array.isArray(data) : !Array.isArray(data) && Object.getPrototypeOf(data) === Object.getPrototypeOf(probe);
}

// IEEE 754 binary16 ↔ number. Conversions round to nearest even, as numpy's astype(float16) does.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function numberToFloat16(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // past the largest half (65504) once rounded
  if (a < 2 ** -25) return sign; // rounds to zero (2^-25 is half the smallest subnormal; ties go to even 0)
  let exp = Math.floor(Math.log2(a));
  if (2 ** exp > a) exp--; // log2 rounding
  if (exp < -14) {
    // subnormal: units of 2^-24
    const m = roundEven(a / 2 ** -24);
    return sign | m;
  }
  let m = roundEven((a / 2 ** exp - 1) * 1024);
  if (m === 1024) {
    m = 0;
    exp++;
  }
  if (exp > 15) return sign | 0x7c00;
  return sign | ((exp + 15) << 10) | m;
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** bfloat16 is the top half of a float32. */
export function bfloat16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

export function numberToBfloat16(v: number): number {
  f32[0] = v;
  const bits = u32[0]!;
  if (Number.isNaN(v)) return 0x7fc0;
  // round to nearest even on the dropped 16 bits
  return ((bits + 0x7fff + ((bits >> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The elements as numbers, for metrics: float16/bfloat16 decoded, bool as 0/1, int64/uint64 through Number (exact
 * to 2^53; exact comparisons of those use `equalAt`). Not for strings.
 */
export function toNumbers(t: Tensor): Float64Array {
  const d = dtypeOf(t);
  const src = t.data;
  if (Array.isArray(src)) throw new Error('string tensors have no numeric values');
  const out = new Float64Array(src.length);
  if (d === 'float16') for (let i = 0; i < src.length; i++) out[i] = float16ToNumber(src[i] as number);
  else if (d === 'bfloat16') for (let i = 0; i < src.length; i++) out[i] = bfloat16ToNumber(src[i] as number);
  else for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

/** A tensor of `dtype` from numbers (rounded as that dtype rounds: half-float to nearest even, ints truncated toward zero and wrapped as C casts do). */
export function fromNumbers(dtype: DType, dims: number[], values: ArrayLike<number>): Tensor {
  const n = values.length;
  const data = allocate(dtype, n);
  if (dtype === 'string') throw new Error('string tensors have no numeric values');
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (dtype === 'float16') (data as Uint16Array)[i] = numberToFloat16(v);
    else if (dtype === 'bfloat16') (data as Uint16Array)[i] = numberToBfloat16(v);
    else if (dtype === 'bool') (data as Uint8Array)[i] = v !== 0 ? 1 : 0;
    else if (isBig(dtype)) (data as BigInt64Array)[i] = BigInt(Math.trunc(v));
    else (data as Float32Array)[i] = isFloat(dtype) ? v : Math.trunc(v);
  }
  return { dims, data, dtype };
}

export const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** Little-endian bytes of a numeric tensor (raw_data, .npy payload). */
export function toLittleEndianBytes(t: Tensor): Uint8Array {
  const data = t.data;
  if (Array.isArray(data)) throw new Error('string tensors have no raw bytes');
  // Every supported host is little-endian (x86, arm64); the view is copied so the caller owns it.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** A numeric tensor from little-endian bytes; the byte count must match. */
export function fromLittleEndianBytes(dtype: DType, dims: number[], bytes: Uint8Array): Tensor {
  const n = elementCount(dims);
  const data = allocate(dtype, n);
  if (Array.isArray(data)) throw new Error('string tensors have no raw bytes');
  if (bytes.byteLength !== n * byteSize(dtype)) throw new Error(`${bytes.byteLength} bytes, [${dims.join(', ')}] ${dtype} needs ${n * byteSize(dtype)}`);
  new Uint8Array(data.buffer).set(bytes);
  return { dims, data, dtype };
}

/** The data of a float32 tensor (the seed model's runners and metrics need no other); anything else throws. */
export function float32Data(t: Tensor, what = 'tensor'): Float32Array {
  if (!(t.data instanceof Float32Array) || (t.dtype !== undefined && t.dtype !== 'float32')) throw new Error(`${what} is ${dtypeOf(t)}, expected float32`);
  return t.data;
}

/** A float tensor's values as a Float32Array or Float64Array without copying where they already are one. */
export function floatValues(t: Tensor): Float32Array | Float64Array {
  return (t.data instanceof Float32Array || t.data instanceof Float64Array) && t.dtype !== 'float16' ? t.data : toNumbers(t);
}
