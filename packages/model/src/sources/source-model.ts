import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../checkpoint.ts';
import { UserError } from '../errors.ts';
import type { SeedParams } from '../params.ts';
import { configFromParams } from '../params.ts';
import { referenceForward } from '../reference.ts';
import { decodeSafetensors, MAX_FILE_BYTES } from '../safetensors.ts';
import { findPytorchGruPrefix, pytorchGruForward, pytorchGruFromSafetensors, type PytorchGru, type PytorchHead } from './pytorch-gru.ts';
import { loadTfjsLayersModel, tfjsLayersForward, type TfjsLayersGru } from './tfjs-layers.ts';

/**
 * Where a model comes from, and so which GRU convention its weights follow (docs/architecture.md, "Numerics and conventions of each source"):
 * - `seed`: the seed's `MyModel` state_dict (safetensors, `gru.W_xz.weight`, …) — the native checkpoint;
 * - `pytorch-gru`: an `nn.GRU` + `nn.Linear` state_dict (safetensors, `gru.weight_ih_l0`, …);
 * - `tfjs-layers`: a TensorFlow.js layers `model.json` (+ weight files) holding GRU → Dense.
 */
export const SOURCE_KINDS = ['seed', 'pytorch-gru', 'tfjs-layers'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface SeedSource {
  kind: 'seed';
  params: SeedParams;
  metadata: Record<string, string>;
}

/** A loaded model of any kind. Every kind maps x [batch, seq, input] to logits [batch, output]. */
export type SourceModel = SeedSource | PytorchGru | TfjsLayersGru;

export function isSourceKind(s: string): s is SourceKind {
  return (SOURCE_KINDS as readonly string[]).includes(s);
}

/** The sizes every kind shares: what x and the output look like. */
export function sourceSizes(m: SourceModel): { inputSize: number; outputSize: number } {
  if (m.kind === 'seed') {
    const { inputSize, outputSize } = configFromParams(m.params);
    return { inputSize, outputSize };
  }
  return { inputSize: m.inputSize, outputSize: m.outputSize };
}

/** The float64 reference of each kind: x [batch, seq, input] row-major → logits [batch, output]. */
export function sourceForward(m: SourceModel, x: ArrayLike<number>, batch: number, seq: number): { logits: Float64Array } {
  switch (m.kind) {
    case 'seed':
      return { logits: referenceForward(m.params, x, batch, seq).logits };
    case 'pytorch-gru':
      return pytorchGruForward(m, x, batch, seq);
    case 'tfjs-layers':
      return tfjsLayersForward(m, x, batch, seq);
  }
}

function readBounded(path: string): Uint8Array {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new UserError(`${path}: file is ${size} bytes, more than the ${MAX_FILE_BYTES}-byte limit`);
  const bytes = readFileSync(path);
  // torch.save writes a zip (PK\x03\x04) or, before PyTorch 1.6, a bare pickle (\x80 + protocol): say how to convert.
  // A safetensors header length of 0x0280–0x0580 starts with the same two bytes; its JSON header opens at byte 8.
  const safetensorsLike = bytes.length > 8 && bytes[8] === 0x7b && bytes.subarray(4, 8).every((b) => b === 0);
  const pickle = bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5 && !safetensorsLike;
  if ((bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) || pickle) {
    throw new UserError(`${path}: a torch.save (pickle) file, which is not read here (unpickling runs code); save the state_dict as safetensors with python/gru_onnx_torch.py (torch and numpy only): save_state_dict(model, "model.safetensors")`);
  }
  // An ONNX ModelProto opens with field 1 (ir_version, varint): tag 0x08. No safetensors file does (its header
  // would be 8 + 256·k bytes long, and then byte 8 opens the JSON).
  if (bytes[0] === 0x08 && !safetensorsLike) {
    throw new UserError(`${path}: looks like an ONNX model, not weights; pass it as --model, and as --weights the checkpoint it was exported from (.safetensors, or a tfjs model.json)`);
  }
  return bytes;
}

/** A model.json path for tfjs: the file itself, or `model.json` inside a directory. */
function tfjsJsonPath(path: string): string | undefined {
  const st = statSync(path);
  if (st.isDirectory()) {
    const inside = join(path, 'model.json');
    return statSync(inside, { throwIfNoEntry: false })?.isFile() ? inside : undefined;
  }
  return path.toLowerCase().endsWith('.json') ? path : undefined;
}

/**
 * Which kind a file holds, from its content: a JSON file with `modelTopology` (or a directory with model.json) is
 * tfjs-layers; a safetensors file with `gru.W_xz.weight` is the seed's, one with `*weight_ih_l0` an nn.GRU.
 */
export function detectSourceKind(path: string): SourceKind {
  let jsonPath: string | undefined;
  try {
    jsonPath = tfjsJsonPath(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read model (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`);
  }
  if (jsonPath) return 'tfjs-layers';
  if (statSync(path).isDirectory()) throw new UserError(`${path}: a directory without model.json; pass a .safetensors checkpoint or a TensorFlow.js model.json`);
  const bytes = readBounded(path);
  if (bytes[0] === 0x7b) throw new UserError(`${path}: looks like JSON; name it *.json (a TensorFlow.js model.json) or pass --source tfjs-layers`);
  return kindOfTensors([...decodeSafetensors(bytes, path).tensors.keys()], path);
}

function kindOfTensors(names: string[], path: string): SourceKind {
  if (names.includes('gru.W_xz.weight')) return 'seed';
  if (findPytorchGruPrefix(names) !== undefined) return 'pytorch-gru';
  throw new UserError(`${path}: neither the seed's MyModel ('gru.W_xz.weight') nor a PyTorch nn.GRU ('gru.weight_ih_l0') state_dict (tensors: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''}); pass --source to say which`);
}

/**
 * Loads a model of any kind. `kind` (the CLI's `--source`) overrides detection; without it the kind comes from
 * the file (see detectSourceKind). `head` (the CLI's `--head`) says what a PyTorch model's Linear reads. Every problem is a one-line UserError naming the file and what is wrong.
 */
export function loadSourceModel(path: string, kind?: SourceKind, options: { head?: PytorchHead } = {}): SourceModel {
  const k = kind ?? detectSourceKind(path);
  // Only a PyTorch state_dict leaves the head to forward(); the seed's and tfjs's files say what the Dense reads.
  if (options.head !== undefined && k !== 'pytorch-gru') throw new UserError(`--head is for PyTorch nn.GRU state_dicts, whose forward() the file does not hold; ${path} is a ${k} model, whose file says what its head reads`);
  if (k === 'tfjs-layers') return loadTfjsLayersModel(path);
  let bytes: Uint8Array;
  try {
    bytes = readBounded(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read checkpoint (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`);
  }
  if (k === 'seed') {
    const { params, metadata } = decodeCheckpoint(bytes, path);
    return { kind: 'seed', params, metadata };
  }
  return pytorchGruFromSafetensors(decodeSafetensors(bytes, path), path, options.head);
}
