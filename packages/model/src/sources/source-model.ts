import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../checkpoint.ts';
import { UserError } from '../errors.ts';
import type { SeedParams } from '../params.ts';
import { configFromParams } from '../params.ts';
import { referenceForward } from '../reference.ts';
import { decodeSafetensors, MAX_FILE_BYTES, type SafetensorsFile } from '../safetensors.ts';
import { findPytorchRnnPrefix, detectPytorchCell, isPytorchKind, PYTORCH_CELLS, pytorchRecurrentForward, pytorchRecurrentFromSafetensors, type PytorchHead, type PytorchNonlinearity, type PytorchRecurrent } from './pytorch-recurrent.ts';
import { loadTfjsLayersModel, tfjsLayersForward, tfjsStateSizes, type TfjsLayersModel } from './tfjs-layers.ts';

/**
 * Where a model comes from, and so which cell convention its weights follow (docs/architecture.md, "Numerics and conventions of each source"):
 * - `seed`: the seed's `MyModel` state_dict (safetensors, `gru.W_xz.weight`, …) — the native checkpoint;
 * - `pytorch-gru`, `pytorch-lstm`, `pytorch-rnn`: an `nn.GRU`, `nn.LSTM` or `nn.RNN` + `nn.Linear` state_dict
 *   (safetensors, `gru.weight_ih_l0`, …), the cell told by the file's shapes;
 * - `tfjs-layers`: a TensorFlow.js layers `model.json` (+ weight files) holding GRU, LSTM or SimpleRNN layers → Dense.
 */
export const SOURCE_KINDS = ['seed', 'pytorch-gru', 'pytorch-lstm', 'pytorch-rnn', 'tfjs-layers'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface SeedSource {
  kind: 'seed';
  params: SeedParams;
  metadata: Record<string, string>;
}

/** A loaded model of any kind. Every kind maps x [batch, seq, input] to logits [batch, output]. */
export type SourceModel = SeedSource | PytorchRecurrent | TfjsLayersModel;

/**
 * Initial states of an imported model, row-major: h0 [S, batch, H] with S = Σ over recurrent layers of their
 * directions (PyTorch's num_layers·num_directions: layer-major, forward then reverse), c0 [S_lstm, batch, H] over
 * the LSTM layers only. Zeros when absent. The seed's h0 [batch, H] is its S = 1 case.
 */
export interface SourceState {
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
}

/** Every output an imported model can export (the graph's logits or probabilities, hidden_states, h_n, c_n). */
export interface SourceOutputs {
  /** [batch, O] */
  logits: Float64Array;
  /** [batch, seq, dirs·H_last]: the last recurrent layer's output at every step. */
  hiddenStates: Float64Array;
  /** [S, batch, H] */
  hN: Float64Array;
  /** [S_lstm, batch, H], only when the model has LSTM layers. */
  cN?: Float64Array;
}

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

/**
 * The state sizes of a model: `slots` S (h0/h_n's first axis), `lstmSlots` (c0/c_n's; 0 without LSTM layers),
 * the recurrent layers' common `hiddenSize` (undefined when they differ: then no h0/h_n), and `lastFeatures`, the
 * last recurrent layer's dirs·H (hidden_states' last axis).
 */
export function sourceStateSizes(m: SourceModel): { slots: number; lstmSlots: number; hiddenSize: number | undefined; lastFeatures: number } {
  if (m.kind === 'seed') {
    const { hiddenSize } = configFromParams(m.params);
    return { slots: 1, lstmSlots: 0, hiddenSize, lastFeatures: hiddenSize };
  }
  if (m.kind === 'tfjs-layers') return tfjsStateSizes(m);
  const slots = m.numLayers * (m.bidirectional ? 2 : 1);
  return { slots, lstmSlots: m.kind === 'pytorch-lstm' ? slots : 0, hiddenSize: m.hiddenSize, lastFeatures: (m.bidirectional ? 2 : 1) * m.hiddenSize };
}

/**
 * The float64 reference of each kind, from its own framework's equations: x [batch, seq, input] row-major and
 * optional initial states (SourceState's layouts) → every output (SourceOutputs).
 */
export function sourceForward(m: SourceModel, x: ArrayLike<number>, batch: number, seq: number, state: SourceState = {}): SourceOutputs {
  switch (m.kind) {
    case 'seed': {
      if (state.c0) throw new RangeError('c0: the seed model has no LSTM layer');
      // The seed's one GRU: h0 [1, batch, H] is its own [batch, H].
      return referenceForward(m.params, x, batch, seq, state.h0);
    }
    case 'pytorch-gru':
    case 'pytorch-lstm':
    case 'pytorch-rnn':
      return pytorchRecurrentForward(m, x, batch, seq, state);
    case 'tfjs-layers':
      return tfjsLayersForward(m, x, batch, seq, state);
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
  return kindOfTensors(decodeSafetensors(bytes, path), path);
}

function kindOfTensors(file: SafetensorsFile, path: string): SourceKind {
  const names = [...file.tensors.keys()];
  if (names.includes('gru.W_xz.weight')) return 'seed';
  const prefix = findPytorchRnnPrefix(names, path);
  if (prefix !== undefined) {
    return PYTORCH_CELLS[detectPytorchCell(file, prefix, (msg) => {
      throw new UserError(`${path}: ${msg}`);
    })].kind;
  }
  throw new UserError(`${path}: neither the seed's MyModel ('gru.W_xz.weight') nor a PyTorch nn.GRU, nn.LSTM or nn.RNN ('rnn.weight_ih_l0') state_dict (tensors: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''}); pass --source to say which`);
}

/**
 * Loads a model of any kind. `kind` (the CLI's `--source`) overrides detection; without it the kind comes from
 * the file (see detectSourceKind). `head` (the CLI's `--head`) says what a PyTorch model's Linear reads, and
 * `nonlinearity` (`--nonlinearity`) an nn.RNN's activation when the file does not. Every problem is a one-line
 * UserError naming the file and what is wrong.
 */
export function loadSourceModel(path: string, kind?: SourceKind, options: { head?: PytorchHead; nonlinearity?: PytorchNonlinearity } = {}): SourceModel {
  const k = kind ?? detectSourceKind(path);
  // Only a PyTorch state_dict leaves the head to forward(); the seed's and tfjs's files say what the Dense reads.
  if (options.head !== undefined && !isPytorchKind(k)) throw new UserError(`--head is for PyTorch nn.GRU, nn.LSTM and nn.RNN state_dicts, whose forward() the file does not hold; ${path} is a ${k} model, whose file says what its head reads`);
  if (options.nonlinearity !== undefined && !isPytorchKind(k)) throw new UserError(`--nonlinearity is for PyTorch nn.RNN state_dicts; ${path} is a ${k} model, whose file says its activations`);
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
  return pytorchRecurrentFromSafetensors(decodeSafetensors(bytes, path), path, { head: options.head, nonlinearity: options.nonlinearity, kind: k });
}
