import { onnx } from '@gru-onnx/onnx';
import { LIMITS, UserError } from '@gru-onnx/model';
import type { DType, Tensor } from '../tensor.ts';
import { allocate, byteSize, dtypeOf, dtypeOfOnnx, elementCount, fromLittleEndianBytes, isBig, onnxTypeOf, toLittleEndianBytes } from '../tensor.ts';

/** Refused before allocating: 2^28 float32 values is 1 GiB. */
export const MAX_TENSOR_ELEMENTS = LIMITS.bundleTensorElements;

const T = onnx.TensorProto.DataType;
const toNumber = (d: number | { toNumber(): number }): number => (typeof d === 'number' ? d : d.toNumber());
const toBig = (d: number | { toString(): string }): bigint => BigInt(typeof d === 'number' ? d : d.toString());

/**
 * Encodes a tensor as an ONNX TensorProto: raw_data (little-endian, as the spec says, whatever the host) for
 * numbers, string_data for strings — what onnx.numpy_helper.from_array writes.
 */
export function encodeTensorProto(name: string, t: Tensor): Uint8Array {
  const dtype = dtypeOf(t);
  const base = { name, dims: t.dims, dataType: onnxTypeOf(dtype) };
  if (Array.isArray(t.data)) {
    const enc = new TextEncoder();
    return onnx.TensorProto.encode({ ...base, stringData: t.data.map((s) => enc.encode(s)) }).finish();
  }
  return onnx.TensorProto.encode({ ...base, rawData: toLittleEndianBytes(t) }).finish();
}

/**
 * Decodes a TensorProto of any dtype onnxruntime's JS API takes, from raw_data or the typed field the ONNX spec
 * assigns it (float_data; int32_data for int8–int32, uint8, uint16, bool, float16 and bfloat16 bits; int64_data;
 * uint64_data for uint32 and uint64; double_data; string_data). Anything else is a UserError naming `source`.
 */
export function decodeTensorProto(bytes: Uint8Array, source: string): { name: string; tensor: Tensor } {
  let t: onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (err) {
    throw new UserError(`${source}: not a TensorProto (${err instanceof Error ? err.message : String(err)})`);
  }
  const dims = t.dims.map(toNumber);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new UserError(`${source}: bad dimensions [${dims.join(', ')}]`);
  const count = elementCount(dims);
  if (count > MAX_TENSOR_ELEMENTS) throw new UserError(`${source}: ${count} elements, over the ${MAX_TENSOR_ELEMENTS} limit`);
  const dtype = dtypeOfOnnx(t.dataType);
  if (!dtype) throw new UserError(`${source}: dtype ${T[t.dataType] ?? `type ${t.dataType}`} is not one onnxruntime's JavaScript API takes`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new UserError(`${source}: external data is not supported`);
  const shape = `[${dims.join(', ')}] ${dtype}`;
  if (dtype === 'string') {
    if (t.stringData.length !== count) throw new UserError(`${source}: ${t.stringData.length} string_data values, ${shape} needs ${count}`);
    const dec = new TextDecoder();
    return { name: t.name, tensor: { dims, dtype, data: t.stringData.map((b) => dec.decode(b)) } };
  }
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * byteSize(dtype)) throw new UserError(`${source}: raw_data has ${t.rawData.length} bytes, ${shape} needs ${count * byteSize(dtype)}`);
    return { name: t.name, tensor: fromLittleEndianBytes(dtype, dims, t.rawData) };
  }
  const field = typedField(t, dtype);
  if (field.values.length !== count) throw new UserError(`${source}: ${field.values.length} ${field.name} values, ${shape} needs ${count}`);
  const data = allocate(dtype, count) as Exclude<ReturnType<typeof allocate>, string[]>;
  if (isBig(dtype)) {
    for (let i = 0; i < count; i++) (data as BigInt64Array)[i] = toBig(field.values[i]!);
    // uint64_data arrives as Long with the unsigned flag; int64_data's negative values as negative Longs.
  } else {
    for (let i = 0; i < count; i++) (data as Float32Array)[i] = toNumber(field.values[i]!);
  }
  return { name: t.name, tensor: { dims, dtype, data } };
}

function typedField(t: onnx.TensorProto, dtype: DType): { name: string; values: (number | { toNumber(): number; toString(): string })[] } {
  switch (dtype) {
    case 'float32':
      return { name: 'float_data', values: t.floatData };
    case 'float64':
      return { name: 'double_data', values: t.doubleData };
    case 'int64':
      return { name: 'int64_data', values: t.int64Data };
    case 'uint32':
    case 'uint64':
      return { name: 'uint64_data', values: t.uint64Data };
    default:
      return { name: 'int32_data', values: t.int32Data };
  }
}
