import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ModelConfig } from './config.ts';
import { UserError } from './errors.ts';
import { PARAM_NAMES, paramShapes, type ParamName, type SeedParams } from './params.ts';
import { decodeSafetensors, encodeSafetensors, MAX_FILE_BYTES } from './safetensors.ts';
import { writeFileAtomic } from './atomic.ts';

/**
 * A trained model: its sizes, its parameters under the seed's PyTorch `state_dict` names, and free-form
 * string metadata (the training summary). The file is safetensors; `__metadata__.config` holds the config as
 * JSON, so `MyModel(**config)` can be rebuilt, and the tensors load with `MyModel.load_state_dict`.
 */
export interface Checkpoint {
  config: ModelConfig;
  params: SeedParams;
  metadata: Record<string, string>;
}

/** `__metadata__` key of the model config (JSON of ModelConfig). */
export const CONFIG_KEY = 'config';
/** `__metadata__` key naming the writer, so a reader can tell our files apart. */
export const FORMAT_KEY = 'format';
export const FORMAT = 'gru-onnx-checkpoint/1';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  validateParams(ckpt.params, ckpt.config, 'checkpoint');
  const metadata = { ...ckpt.metadata, [FORMAT_KEY]: FORMAT, [CONFIG_KEY]: JSON.stringify(configOf(ckpt.config)) };
  return encodeSafetensors(
    PARAM_NAMES.map((n) => [n, ckpt.params[n]] as [string, { shape: number[]; data: Float32Array }]),
    metadata,
  );
}

/**
 * Parses and validates a checkpoint: the safetensors structure (see decodeSafetensors), then exactly the seed's
 * tensor names, shapes consistent with one config (and with `__metadata__.config` when present), and finite
 * values. Each problem is a one-line UserError naming the tensor.
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const file = decodeSafetensors(bytes, source);
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`);
  };
  const expected = new Set<string>(PARAM_NAMES);
  for (const name of file.tensors.keys()) {
    if (!expected.has(name)) fail(`unexpected tensor '${name}' (a seed checkpoint holds exactly: ${PARAM_NAMES.join(', ')})`);
  }
  for (const name of PARAM_NAMES) if (!file.tensors.has(name)) fail(`missing tensor '${name}'`);

  const params = {} as SeedParams;
  for (const name of PARAM_NAMES) params[name] = file.tensors.get(name)!;

  // Sizes come from the shapes; every other tensor must agree with them.
  const [H, I] = params['gru.W_xz.weight'].shape;
  const [O] = params['fc.weight'].shape;
  if (params['gru.W_xz.weight'].shape.length !== 2 || H === undefined || I === undefined) {
    fail(`tensor 'gru.W_xz.weight': shape [${params['gru.W_xz.weight'].shape.join(', ')}] is not [hidden, input]`);
  }
  if (params['fc.weight'].shape.length !== 2 || O === undefined) fail(`tensor 'fc.weight': shape [${params['fc.weight'].shape.join(', ')}] is not [output, hidden]`);
  const config: ModelConfig = { inputSize: I!, hiddenSize: H!, outputSize: O! };
  for (const [k, v] of Object.entries(config)) if (v < 1) fail(`tensor shapes give ${k} = ${v}; every size must be at least 1`);

  const metaConfig = file.metadata[CONFIG_KEY];
  if (metaConfig !== undefined) {
    const declared = parseConfig(metaConfig, fail);
    for (const k of ['inputSize', 'hiddenSize', 'outputSize'] as const) {
      if (declared[k] !== config[k]) fail(`__metadata__ config says ${k} = ${declared[k]} but the tensor shapes give ${config[k]}`);
    }
  }
  validateParams(params, config, source);
  return { config, params, metadata: file.metadata };
}

export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  writeFileAtomic(path, encodeCheckpoint(ckpt));
}

export function loadCheckpoint(path: string): Checkpoint {
  const cannot = (err: unknown) => new UserError(`${path}: cannot read checkpoint (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`);
  let bytes: Uint8Array;
  try {
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES) throw new UserError(`${path}: file is ${size} bytes, more than the ${MAX_FILE_BYTES}-byte limit`);
    bytes = readFileSync(path);
  } catch (err) {
    throw err instanceof UserError ? err : cannot(err);
  }
  return decodeCheckpoint(bytes, path);
}

function configOf(c: ModelConfig): ModelConfig {
  return { inputSize: c.inputSize, hiddenSize: c.hiddenSize, outputSize: c.outputSize };
}

function parseConfig(text: string, fail: (msg: string) => never): ModelConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return fail(`__metadata__ config is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof v !== 'object' || v === null) return fail('__metadata__ config is not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['inputSize', 'hiddenSize', 'outputSize']) {
    if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 1) fail(`__metadata__ config ${k} is ${JSON.stringify(o[k])}, not a positive integer`);
  }
  return { inputSize: o.inputSize as number, hiddenSize: o.hiddenSize as number, outputSize: o.outputSize as number };
}

/** Shapes against `config`, sizes against shapes, and finiteness (naming the tensor and the flat index). */
function validateParams(params: SeedParams, config: ModelConfig, source: string): void {
  const shapes = paramShapes(config);
  for (const name of PARAM_NAMES as readonly ParamName[]) {
    const t = params[name];
    const fail = (msg: string): never => {
      throw new UserError(`${source}: tensor '${name}': ${msg}`);
    };
    if (!t) fail('missing');
    const want = shapes[name];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      fail(`shape [${t.shape.join(', ')}] does not match [${want.join(', ')}] for input ${config.inputSize}, hidden ${config.hiddenSize}, output ${config.outputSize}`);
    }
    const size = want.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) fail(`has ${t.data.length} values, shape [${want.join(', ')}] needs ${size}`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) fail(`value ${t.data[i]} at flat index ${i} is not finite`);
    }
  }
}
