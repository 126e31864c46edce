import { existsSync, fsyncSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { LIMITS, makeDirectory, UserError } from '@gru-onnx/model';
import { readSignature } from './inputs.ts';
import type { ValueSignature } from './inputs.ts';
import type { Feeds, NamedTensor } from './runner.ts';
import { decodeTensorProto, encodeTensorProto, MAX_TENSOR_ELEMENTS } from './inputs/tensor-proto.ts';
import { dtypeOfOnnxName, fromNumbers } from './tensor.ts';
import type { ExpectedTensor } from './compare.ts';

/**
 * Bundles in the ONNX backend-test layout (onnx/backend/test/data/node/*):
 *
 *   DIR/model.onnx
 *   DIR/test_data_set_0/input_0.pb … input_K.pb     TensorProto, in the graph's input order
 *   DIR/test_data_set_0/output_0.pb … output_K.pb   TensorProto, in the graph's output order
 *
 * Tensors of every dtype onnxruntime's JavaScript API takes are read and written (inputs/tensor-proto.ts).
 */

/** One stored input/output set of a bundle, as saveBundle takes it. */
export interface BundleCaseData {
  inputs: Feeds;
  outputs: Record<string, NamedTensor | ExpectedTensor>;
}

/** A bundle as loadBundle returns it: the model and its stored input/output sets. */
export interface BundleData {
  model: Uint8Array;
  cases: { name: string; inputs: Feeds; outputs: Record<string, ExpectedTensor> }[];
  /** How the stored tensors were matched to the model, where not by their names. */
  notes?: string[];
}

/** Refused before reading: no tensor file of a seed-sized model comes near this. */
export const MAX_BUNDLE_FILE_BYTES = LIMITS.bundleFileBytes;
export { MAX_TENSOR_ELEMENTS };


function writeSynced(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const BUNDLE_ENTRY = /^(model\.onnx|test_data_set_\d+)$/;

/**
 * Writes a bundle so that `dir` holds a complete bundle or nothing new: everything goes into a temporary sibling
 * directory, which is renamed onto `dir`. An existing bundle at `dir` is replaced; any other existing directory
 * is refused rather than deleted. Expected outputs are stored in the dtype the model declares for them (the
 * float64 reference's values rounded to it).
 */
export function saveBundle(dir: string, model: Uint8Array, cases: BundleCaseData[]): void {
  const sig = readSignature(model);
  const target = resolve(dir);
  if (existsSync(target)) {
    const foreign = readdirSync(target).filter((e) => !BUNDLE_ENTRY.test(e));
    if (foreign.length > 0) throw new UserError(`${dir}: exists and is not a bundle (it holds ${foreign[0]}); not replacing it`);
  }
  makeDirectory(dirname(target));
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${tag}`);
  const old = join(dirname(target), `.${basename(target)}.old-${tag}`);
  try {
    mkdirSync(tmp);
    writeSynced(join(tmp, 'model.onnx'), model);
    cases.forEach((c, n) => {
      const set = join(tmp, `test_data_set_${n}`);
      mkdirSync(set);
      sig.inputs.forEach((v, k) => {
        const t = c.inputs[v.name];
        if (!t) throw new UserError(`bundle case ${n}: no value for model input "${v.name}"`);
        writeSynced(join(set, `input_${k}.pb`), encodeTensorProto(v.name, t));
      });
      sig.outputs.forEach((v, k) => {
        const t = c.outputs[v.name];
        if (!t) throw new UserError(`bundle case ${n}: no value for model output "${v.name}"`);
        writeSynced(join(set, `output_${k}.pb`), encodeTensorProto(v.name, asDeclared(t, v.elemType)));
      });
    });
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(target)) renameSync(old, target);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
}

function readLimited(path: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new UserError(`${path}: cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  if (size > MAX_BUNDLE_FILE_BYTES) throw new UserError(`${path}: ${size} bytes, over the ${MAX_BUNDLE_FILE_BYTES}-byte limit`);
  return readFileSync(path);
}

/** Decodes one TensorProto file of any dtype; a corrupt or unsupported one is a UserError naming the file. */
export function readTensorFile(path: string): { name: string; tensor: NamedTensor } {
  return decodeTensorProto(readLimited(path), path);
}

/** An expected tensor in the dtype the model declares: the float64 reference's values are rounded to it. */
function asDeclared(t: NamedTensor | ExpectedTensor, elemType: string): NamedTensor {
  const want = dtypeOfOnnxName(elemType);
  if (t.data instanceof Float64Array && t.dtype === undefined && want && want !== 'float64') return fromNumbers(want, t.dims, t.data);
  return t as NamedTensor;
}

/**
 * The files' tensors under the graph's names: by the names they carry when those are the graph's, else by
 * position (input_K.pb is the K-th graph input, as the backend-test layout defines), which `notes` records. Files of
 * non-tensor values (a SequenceProto, OptionalProto…) are left unread: no onnxruntime JavaScript API can take or
 * give them, and verify reports that per backend.
 */
function mapByName(files: string[], values: ValueSignature[], what: string, set: string, notes: Set<string>): Record<string, NamedTensor> {
  const names = values.map((v) => v.name);
  if (files.length !== names.length) throw new UserError(`${set}: ${files.length} ${what} files, the model has ${names.length} ${what}s (${names.join(', ')})`);
  // Non-tensor values are not read: their names stand in, so matching by name still works around them.
  const read = files.map((f, k): { file: string; name: string; tensor?: NamedTensor } => (values[k]!.kind ? { file: f, name: names[k]! } : { file: f, ...readTensorFile(f) }));
  const byName = read.every((r) => names.includes(r.name)) && new Set(read.map((r) => r.name)).size === read.length;
  if (!byName) {
    const differ = read.map((r, k) => [r.name, names[k]!] as const).filter(([a, b]) => a !== b);
    if (differ.length > 0) notes.add(`bundle ${what}s matched by position: ${differ.map(([a, b]) => `'${a}' as '${b}'`).join(', ')} (the stored names are not the model's)`);
  }
  const out: Record<string, NamedTensor> = {};
  read.forEach((r, k) => {
    if (!r.tensor) return;
    out[byName ? r.name : names[k]!] = r.tensor;
  });
  return out;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw new UserError(`${dir}: cannot list (${err instanceof Error ? err.message : String(err)})`);
  }
}

function numbered(dir: string, prefix: string): string[] {
  const found = listDir(dir)
    .map((e) => new RegExp(`^${prefix}_(\\d+)\\.pb$`).exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  found.forEach((k, i) => {
    if (k !== i) throw new UserError(`${dir}: ${prefix}_${i}.pb is missing (found ${prefix}_${k}.pb)`);
  });
  return found.map((k) => join(dir, `${prefix}_${k}.pb`));
}

/**
 * Reads any bundle in the ONNX backend-test layout, not only ours: the model's graph inputs (initializers
 * excluded) and outputs name the input_K/output_K files. `model` (verify's --model) replaces the bundle's
 * model.onnx, which may then be absent, as in a capture made from PyTorch. Corrupt or unsupported files are
 * UserErrors naming the file.
 */
export function loadBundle(dir: string, model?: Uint8Array): BundleData {
  const modelPath = join(dir, 'model.onnx');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: not a directory`);
  if (!model && !existsSync(modelPath)) throw new UserError(`${dir}: no model.onnx in the bundle (a PyTorch capture holds none): pass the model to check with --model FILE.onnx`);
  const bytes = model ?? readLimited(modelPath);
  const sig = readSignature(bytes, model ? 'model' : modelPath);
  const sets = listDir(dir)
    .map((e) => /^test_data_set_(\d+)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[0]);
  if (sets.length === 0) throw new UserError(`${dir}: no test_data_set_N directories`);
  const notes = new Set<string>();
  const cases = sets.map((name) => {
    const set = join(dir, name);
    return {
      name,
      inputs: mapByName(numbered(set, 'input'), sig.inputs, 'input', set, notes),
      outputs: mapByName(numbered(set, 'output'), sig.outputs, 'output', set, notes),
    };
  });
  return { model: new Uint8Array(bytes), cases, ...(notes.size > 0 ? { notes: [...notes] } : {}) };
}
