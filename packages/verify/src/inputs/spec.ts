import { readFileSync, statSync } from 'node:fs';
import { LIMITS, Rng, UserError } from '@gru-onnx/model';
import type { ValueSignature } from '../inputs.ts';
import type { DType, Tensor } from '../tensor.ts';
import { dtypeOf, dtypeOfOnnxName, elementCount, fromNumbers, isFloat } from '../tensor.ts';
import { readNpy } from './npy.ts';
import { decodeTensorProto } from './tensor-proto.ts';

/**
 * What `--input NAME=SPEC` says about one input:
 *   16000, [[1,2],[3,4]]        numbers (a JSON number or array; true/false for bool)
 *   @x.npy, @x.pb               a file: NumPy array or ONNX TensorProto
 *   normal(m,s) uniform(a,b) int(a,b) zeros ones, each with an optional :AxB shape (int's bounds are inclusive)
 */
export type InputSpec =
  | { kind: 'values'; text: string; value: unknown }
  | { kind: 'file'; text: string; path: string }
  | { kind: 'normal' | 'uniform' | 'int'; text: string; a: number; b: number; shape?: number[] }
  | { kind: 'zeros' | 'ones'; text: string; shape?: number[] };

/** Most values in one generated input (2^26 float32 = 256 MiB). */
export const MAX_GENERATED_ELEMENTS = LIMITS.generatedInputElements;
const MAX_FILE_BYTES = LIMITS.bundleFileBytes;

const NUMBER = String.raw`\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*`;
const GENERATOR = new RegExp(String.raw`^(normal|uniform|int)\(${NUMBER},${NUMBER}\)(?::(.*))?$|^(zeros|ones)(?::(.*))?$`, 'i');

function parseShape(text: string, where: string): number[] {
  const parts = text.split('x');
  const dims = parts.map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) throw new UserError(`${where}: shape '${text}' is not AxBxC (non-negative integers), e.g. 1x576`);
  return dims;
}

/** Parses SPEC; `where` names the option for errors (e.g. `--input x`). */
export function parseInputSpec(text: string, where: string): InputSpec {
  const s = text.trim();
  if (s.startsWith('@')) {
    const path = s.slice(1);
    if (!/\.(npy|pb)$/i.test(path)) throw new UserError(`${where}: file '${path}' must end in .npy (NumPy) or .pb (ONNX TensorProto)`);
    return { kind: 'file', text: s, path };
  }
  const g = GENERATOR.exec(s);
  if (g) {
    if (g[1]) {
      const kind = g[1].toLowerCase() as 'normal' | 'uniform' | 'int';
      const a = Number(g[2]);
      const b = Number(g[3]);
      if (kind === 'normal' && !(b >= 0)) throw new UserError(`${where}: normal(mean, std) needs std ≥ 0, got ${b}`);
      if (kind !== 'normal' && !(a <= b)) throw new UserError(`${where}: ${kind}(a, b) needs a ≤ b, got ${a} > ${b}`);
      if (kind === 'int' && (!Number.isSafeInteger(a) || !Number.isSafeInteger(b))) throw new UserError(`${where}: int(a, b) needs integer bounds`);
      return { kind, text: s, a, b, ...(g[4] !== undefined ? { shape: parseShape(g[4], where) } : {}) };
    }
    const kind = g[5]!.toLowerCase() as 'zeros' | 'ones';
    return { kind, text: s, ...(g[6] !== undefined ? { shape: parseShape(g[6], where) } : {}) };
  }
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    throw new UserError(`${where}: '${s}' is not a number, JSON array, @file.npy/@file.pb, or normal(m,s)/uniform(a,b)/int(a,b)/zeros/ones[:AxB]`);
  }
  if (typeof value !== 'number' && typeof value !== 'boolean' && !Array.isArray(value)) throw new UserError(`${where}: '${s}' must be a number or a JSON array`);
  return { kind: 'values', text: s, value };
}

/** `NAME=VALUE` of a repeatable option, split at the first `=`. */
export function splitAssignment(text: string, option: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) throw new UserError(`${option} '${text}': expected NAME=VALUE`);
  return [text.slice(0, i), text.slice(i + 1)];
}

/** `--dim NAME=N`. */
export function parseDim(text: string): [string, number] {
  const [name, v] = splitAssignment(text, '--dim');
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new UserError(`--dim ${name}: '${v}' is not a non-negative integer`);
  return [name, n];
}

/** The generator used when `--input` says nothing about an input, named so reports can print it. */
export function defaultSpec(dtype: DType): InputSpec {
  if (isFloat(dtype)) return { kind: 'normal', text: 'normal(0,1)', a: 0, b: 1 };
  if (dtype === 'bool') return { kind: 'int', text: 'int(0,1)', a: 0, b: 1 };
  // Small non-negative integers: valid as indices, token ids, lengths and flags in most models.
  return { kind: 'int', text: 'int(0,9)', a: 0, b: 9 };
}

/** One input's resolved plan: its dtype, shape and the spec that fills it (file and value specs already read). */
export interface InputPlan {
  name: string;
  dtype: DType;
  dims: number[];
  spec: string;
  /** Fixed values (from a number, JSON array or file); generators draw fresh values per case instead. */
  fixed?: Tensor;
  /** With steps: one fixed tensor per step, from a file with a leading step axis. */
  fixedSteps?: Tensor[];
  generator?: Exclude<InputSpec, { kind: 'values' | 'file' }>;
}

export interface PlanOptions {
  dims?: Record<string, number>;
  inputs?: Record<string, InputSpec>;
  /** A stateful run of this many steps: a file may then carry a leading step axis of this length. */
  steps?: number;
}

function nestedShape(v: unknown, where: string): number[] {
  if (!Array.isArray(v)) return [];
  if (v.length === 0) return [0];
  const inner = nestedShape(v[0], where);
  for (const e of v) {
    const s = nestedShape(e, where);
    if (s.length !== inner.length || s.some((d, i) => d !== inner[i])) throw new UserError(`${where}: a ragged JSON array (rows of different shapes)`);
  }
  return [v.length, ...inner];
}

function flatNumbers(v: unknown, where: string): number[] {
  const out: number[] = [];
  const walk = (e: unknown): void => {
    if (Array.isArray(e)) e.forEach(walk);
    else if (typeof e === 'number') out.push(e);
    else if (typeof e === 'boolean') out.push(e ? 1 : 0);
    else throw new UserError(`${where}: ${JSON.stringify(e)} is not a number`);
  };
  walk(v);
  return out;
}

function readSpecFile(path: string, where: string): Tensor {
  let bytes: Uint8Array;
  try {
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES) throw new UserError(`${where}: ${path}: ${size} bytes, over the ${MAX_FILE_BYTES}-byte limit`);
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${where}: ${path}: cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  return /\.npy$/i.test(path) ? readNpy(bytes, `${where}: ${path}`) : decodeTensorProto(bytes, `${where}: ${path}`).tensor;
}

const show = (dims: readonly (number | string | null)[]): string => `[${dims.map((d) => d ?? '?').join(', ')}]`;

/**
 * Resolves every graph input to a dtype, a shape and a spec, before anything runs: `--input` first, then the
 * signature's dimensions with `--dim` for symbolic ones. An input whose shape stays unknown, a string input, a
 * file of the wrong dtype or a shape the model does not accept is a UserError naming the input and what to pass.
 */
export function planInputs(inputs: readonly ValueSignature[], options: PlanOptions = {}): InputPlan[] {
  const dimsByName = options.dims ?? {};
  const specs = options.inputs ?? {};
  for (const name of Object.keys(specs)) {
    if (!inputs.some((v) => v.name === name)) throw new UserError(`--input ${name}: the model has no such input (inputs: ${inputs.map((v) => v.name).join(', ')})`);
  }
  const usedDims = new Set<string>();
  const plans = inputs.map((v): InputPlan => {
    const where = `--input ${v.name}`;
    const dtype = dtypeOfOnnxName(v.elemType);
    if (dtype === 'string') throw new UserError(`model input "${v.name}" is a string tensor: gru-onnx generates numbers only; give its values in a bundle (--bundle DIR)`);
    if (!dtype) throw new UserError(`model input "${v.name}" has type ${v.elemType}, which onnxruntime's JavaScript API does not take`);
    const declared = v.dims;
    const spec = specs[v.name] ?? defaultSpec(dtype);
    const resolveDeclared = (): number[] => {
      if (!declared) throw new UserError(`model input "${v.name}" declares no shape: pass --input ${v.name}=SPEC:AxB (e.g. ${defaultSpec(dtype).text}:1x16) or a file`);
      return declared.map((d, axis) => {
        if (typeof d === 'number') return d;
        if (typeof d === 'string' && dimsByName[d] !== undefined) {
          usedDims.add(d);
          return dimsByName[d];
        }
        const fix = typeof d === 'string' ? `--dim ${d}=N` : `--input ${v.name}=${defaultSpec(dtype).text}:${declared.map((e) => (typeof e === 'number' ? e : 'N')).join('x')}`;
        throw new UserError(`model input "${v.name}" ${show(declared)}: axis ${axis} (${d ?? 'unnamed'}) has no size; pass ${fix}`);
      });
    };
    const checkAgainstDeclared = (dims: number[], what: string): void => {
      if (!declared) return;
      if (declared.length !== dims.length) throw new UserError(`${where}: ${what} has shape [${dims.join(', ')}], the model declares ${show(declared)}`);
      declared.forEach((d, i) => {
        const want = typeof d === 'number' ? d : typeof d === 'string' ? dimsByName[d] : undefined;
        if (typeof d === 'string' && dimsByName[d] !== undefined) usedDims.add(d);
        if (want !== undefined && want !== dims[i]) throw new UserError(`${where}: ${what} has shape [${dims.join(', ')}], the model declares ${show(declared)}${typeof d === 'string' ? ` with ${d}=${want}` : ''}`);
      });
    };
    if (spec.kind === 'file') {
      const t = readSpecFile(spec.path, where);
      const got = dtypeOf(t);
      if (got !== dtype) throw new UserError(`${where}: ${spec.path} holds ${got}, the model's input is ${dtype}; convert it (NumPy: arr.astype(np.${dtype === 'bool' ? 'bool_' : dtype}))`);
      const steps = options.steps ?? 0;
      if (steps > 0 && declared && t.dims.length === declared.length + 1) {
        // A leading step axis: step t's input is slice t.
        if (t.dims[0]! < steps) throw new UserError(`${where}: ${spec.path} has ${t.dims[0]} steps on its leading axis, --steps asks for ${steps}`);
        const inner = t.dims.slice(1);
        checkAgainstDeclared(inner, `${spec.path} (one step)`);
        const n = elementCount(inner);
        const fixedSteps = Array.from({ length: steps }, (_, k): Tensor => ({ dims: inner, dtype, data: (t.data as Float32Array).slice(k * n, (k + 1) * n) }));
        return { name: v.name, dtype, dims: inner, spec: `${spec.text} (step axis)`, fixedSteps };
      }
      checkAgainstDeclared(t.dims, spec.path);
      return { name: v.name, dtype, dims: t.dims, spec: spec.text, fixed: t };
    }
    if (spec.kind === 'values') {
      const numbers = flatNumbers(spec.value, where);
      let dims = nestedShape(spec.value, where);
      let values = numbers;
      if (!Array.isArray(spec.value)) {
        // One number fills the input's whole shape (a scalar input stays a scalar).
        dims = resolveDeclared();
        values = new Array<number>(elementCount(dims)).fill(numbers[0]!);
      }
      checkAgainstDeclared(dims, `'${spec.text}'`);
      checkRange(dtype, values, where);
      return { name: v.name, dtype, dims, spec: spec.text, fixed: fromNumbers(dtype, dims, values) };
    }
    const dims = spec.shape ?? resolveDeclared();
    if (spec.shape) checkAgainstDeclared(dims, `:${spec.shape.join('x')}`);
    if (spec.kind === 'int' && !isFloat(dtype)) checkRange(dtype, [spec.a, spec.b], where);
    if (elementCount(dims) > MAX_GENERATED_ELEMENTS) throw new UserError(`${where}: [${dims.join(', ')}] is ${elementCount(dims)} values, over the ${MAX_GENERATED_ELEMENTS} limit per input`);
    return { name: v.name, dtype, dims, spec: spec.text, generator: spec };
  });
  for (const name of Object.keys(dimsByName)) {
    if (!usedDims.has(name)) {
      const known = [...new Set(inputs.flatMap((v) => (v.dims ?? []).filter((d): d is string => typeof d === 'string')))];
      throw new UserError(`--dim ${name}: no input has a dimension named ${name}${known.length > 0 ? ` (symbolic dimensions: ${known.join(', ')})` : ''}`);
    }
  }
  return plans;
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 2 ** 32 - 1],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  bool: [0, 1],
};

function checkRange(dtype: DType, values: number[], where: string): void {
  const r = INT_RANGE[dtype];
  if (!r) return;
  const bad = values.find((v) => !Number.isInteger(v) || v < r[0] || v > r[1]);
  if (bad !== undefined) throw new UserError(`${where}: ${bad} is not a ${dtype} (${r[0]} to ${r[1]})`);
}

/** A 32-bit FNV-1a hash: each input's draws depend on its name, not on its position or the other inputs. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The feeds of case `index` (and `step` of a stateful run) under `seed`: fixed values as they are, each generator
 * drawn from its own seeded stream.
 */
export function drawFeeds(plans: readonly InputPlan[], seed: number, index: number, step = 0): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const p of plans) {
    if (p.fixedSteps) {
      feeds[p.name] = p.fixedSteps[step]!;
      continue;
    }
    if (p.fixed) {
      feeds[p.name] = p.fixed;
      continue;
    }
    const g = p.generator!;
    const n = elementCount(p.dims);
    const values = new Float64Array(n);
    const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(step, 0x85ebca6b) ^ hash(p.name)) >>> 0);
    if (g.kind === 'normal') for (let i = 0; i < n; i++) values[i] = g.a + g.b * rng.normal();
    else if (g.kind === 'uniform') for (let i = 0; i < n; i++) values[i] = rng.range(g.a, g.b);
    else if (g.kind === 'int') for (let i = 0; i < n; i++) values[i] = g.a + rng.int(g.b - g.a + 1);
    else if (g.kind === 'ones') values.fill(1);
    feeds[p.name] = fromNumbers(p.dtype, [...p.dims], values);
  }
  return feeds;
}
