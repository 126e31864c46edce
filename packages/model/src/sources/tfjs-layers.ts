import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { LIMITS, readFileWithin } from '../limits.ts';

/**
 * A TensorFlow.js layers model: [InputLayer] → GRU (→ GRU …) → Dense, read from `model.json` and its weight files.
 * Every GRU but the last returns its sequences (feeding the next); the last returns its final state.
 *
 * tfjs's GRU cell (`tfjs-layers/src/layers/recurrent.ts`, resetAfter = false), gates stacked z, r, h along the
 * last axis of kernel [I, 3H], recurrent kernel [H, 3H] and bias [3H]:
 *
 *   z  = σ_r(x K_z + b_z + h RK_z)        r = σ_r(x K_r + b_r + h RK_r)
 *   h̃  = tanh(x K_h + b_h + (r ⊙ h) RK_h)
 *   h' = z ⊙ h + (1 − z) ⊙ h̃              y = act(h_T K_dense + b_dense),  h_0 = 0
 *
 * σ_r is hardSigmoid (tfjs's default: clip(0.2 a + 0.5, 0, 1), tfjs-layers 4.22 `backend/tfjs_backend.ts`) or
 * sigmoid; act is linear or softmax.
 */
export interface TfjsGruLayer {
  name: string;
  inputSize: number;
  /** units */
  hiddenSize: number;
  recurrentActivation: 'hardSigmoid' | 'sigmoid';
  /** [input, 3H], gates z, r, h */
  kernel: Float32Array;
  /** [H, 3H] */
  recurrentKernel: Float32Array;
  /** [3H] (zeros when useBias is false) */
  bias: Float32Array;
}

export interface TfjsLayersGru {
  kind: 'tfjs-layers';
  inputSize: number;
  outputSize: number;
  /** In data-flow order; the Dense reads the last one's final state. */
  grus: TfjsGruLayer[];
  /** kernel [H_last, O], bias [O] (zeros when useBias is false). */
  dense: { name: string; kernel: Float32Array; bias: Float32Array; activation: 'linear' | 'softmax' };
  /** Time steps the model declares (batch_input_shape[1]); null when any length is accepted. */
  declaredSeq: number | null;
}

export const HARD_SIGMOID_ALPHA = 0.2;
export const HARD_SIGMOID_BETA = 0.5;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Options that only matter in training (initializers, regularizers, constraints, dropout masks) or for speed. */
const INFERENCE_NEUTRAL = /^(name|trainable|dtype|batch_input_shape|input_shape|batch_size|(kernel|recurrent|bias)_(initializer|regularizer|constraint)|activity_regularizer|dropout|recurrent_dropout|implementation|unroll|seed)$/;

/** Activation names as tfjs and Keras serialize them. */
function activationName(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.class_name === 'string') return v.class_name;
  return JSON.stringify(v);
}

interface LayerSpec {
  className: string;
  name: string;
  config: Json;
}

/** The layers in data-flow order: Sequential as listed, a functional model followed from its input along a chain. */
function layerChain(topology: Json, fail: (msg: string) => never): LayerSpec[] {
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const className = modelConfig.class_name;
  const config = modelConfig.config;
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(rawLayers)) return fail(`modelTopology has no layer list (class_name ${JSON.stringify(className)})`);
  const layers: LayerSpec[] = rawLayers.map((l: unknown, i: number) => {
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) return fail(`layer ${i} is not {class_name, config}`);
    const name = typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : `#${i}`;
    return { className: l.class_name, name, config: l.config };
  });
  if (className === 'Sequential') return layers;
  if (className !== 'Model' && className !== 'Functional') return fail(`model class '${String(className)}' is not supported (Sequential, or a functional Model that is a single chain)`);
  // Functional: each layer must take exactly the previous one's output.
  const inbound = new Map<string, string[]>();
  for (const l of rawLayers as Json[]) {
    const name = (l.config as Json).name as string;
    const nodes = Array.isArray(l.inbound_nodes) ? (l.inbound_nodes as unknown[]) : [];
    if (nodes.length > 1) fail(`layer '${name}' is called ${nodes.length} times; only a single chain of layers is supported`);
    const node = nodes[0];
    const sources = Array.isArray(node) ? node.map((t: unknown) => (Array.isArray(t) ? String(t[0]) : '?')) : [];
    inbound.set(name, sources);
  }
  const byName = new Map(layers.map((l) => [l.name, l]));
  const start = layers.filter((l) => (inbound.get(l.name) ?? []).length === 0);
  if (start.length !== 1) fail(`the model has ${start.length} inputs; only one input is supported`);
  const chain = [start[0]!];
  for (;;) {
    const prev = chain[chain.length - 1]!.name;
    const next = layers.filter((l) => (inbound.get(l.name) ?? []).includes(prev));
    if (next.length === 0) break;
    if (next.length > 1) fail(`layer '${prev}' feeds ${next.length} layers (${next.map((l) => l.name).join(', ')}); only a single chain is supported`);
    if (inbound.get(next[0]!.name)!.length !== 1) fail(`layer '${next[0]!.name}' merges ${inbound.get(next[0]!.name)!.length} inputs; only a single chain is supported`);
    chain.push(byName.get(next[0]!.name)!);
  }
  if (chain.length !== layers.length) fail(`layer '${layers.find((l) => !chain.includes(l))!.name}' is not on the chain from the input to the output`);
  return chain;
}

/** Refuses any option outside `checked` (values compared) and the inference-neutral ones, naming it. */
function checkOptions(layer: LayerSpec, checked: Record<string, (v: unknown) => boolean>, fail: (msg: string) => never): void {
  for (const [key, value] of Object.entries(layer.config)) {
    const ok = checked[key];
    if (ok) {
      if (!ok(value)) fail(`layer '${layer.name}' (${layer.className}): ${key} = ${JSON.stringify(value)} is not supported`);
    } else if (!INFERENCE_NEUTRAL.test(key)) {
      fail(`layer '${layer.name}' (${layer.className}): option '${key}' is not supported`);
    }
  }
  const dtype = layer.config.dtype;
  if (dtype !== undefined && dtype !== null && dtype !== 'float32') fail(`layer '${layer.name}' (${layer.className}): dtype ${JSON.stringify(dtype)} is not supported (float32 only)`);
}

const isFalse = (v: unknown) => v === false || v === null || v === undefined;

/** Reads every weight of the manifest: float32 only, groups' files concatenated in order. */
function readWeights(manifest: unknown, readFile: (path: string) => Uint8Array, fail: (msg: string) => never): Map<string, { shape: number[]; data: Float32Array }> {
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  if (!Array.isArray(manifest)) return fail('model.json has no weightsManifest list');
  for (const group of manifest) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) fail('weightsManifest entry is not {paths, weights}');
    const parts = (group.paths as unknown[]).map((p) => readFile(String(p)));
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    let offset = 0;
    for (const w of group.weights as unknown[]) {
      if (!isObject(w) || typeof w.name !== 'string' || !Array.isArray(w.shape)) return fail('weightsManifest weight is not {name, shape, dtype}');
      if (w.quantization !== undefined) fail(`weight '${w.name}' is quantized (${JSON.stringify(w.quantization)}); only float32 weights are supported`);
      if (w.dtype !== 'float32') fail(`weight '${w.name}' has dtype ${JSON.stringify(w.dtype)}; only float32 weights are supported`);
      const shape = w.shape as unknown[];
      if (!shape.every((d): d is number => Number.isSafeInteger(d) && (d as number) >= 0)) fail(`weight '${w.name}' has shape ${JSON.stringify(w.shape)}, not a list of non-negative integers`);
      const count = shape.reduce((a, d) => a * d, 1);
      if (offset + 4 * count > bytes.byteLength) fail(`weight '${w.name}' runs past the end of its weight files (${bytes.byteLength} bytes): truncated .bin?`);
      const data = new Float32Array(bytes.slice(offset, offset + 4 * count).buffer);
      for (let i = 0; i < count; i++) if (!Number.isFinite(data[i]!)) fail(`weight '${w.name}': value ${data[i]} at flat index ${i} is not finite`);
      weights.set(w.name, { shape, data });
      offset += 4 * count;
    }
    if (offset !== bytes.byteLength) fail(`weight files of group [${(group.paths as unknown[]).join(', ')}] hold ${bytes.byteLength} bytes, the manifest describes ${offset}`);
  }
  return weights;
}

/** The layer's weights by their last name component ('kernel', 'recurrent_kernel', 'bias'). */
function layerWeights(layer: LayerSpec, all: Map<string, { shape: number[]; data: Float32Array }>, fail: (msg: string) => never) {
  const mine = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, w] of all) {
    const parts = name.split('/');
    if (parts[0] !== layer.name) continue;
    const key = parts[parts.length - 1]!.replace(/:\d+$/, '');
    if (mine.has(key)) fail(`layer '${layer.name}': two weights named '${key}'`);
    mine.set(key, w);
  }
  return (key: string, shape: number[] | undefined): Float32Array | undefined => {
    const w = mine.get(key);
    if (!w) return shape ? fail(`layer '${layer.name}': weight '${layer.name}/${key}' is missing from the weightsManifest`) : undefined;
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
      fail(`layer '${layer.name}': weight '${key}' has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return w.data;
  };
}

/**
 * Parses a layers model.json (already JSON-decoded) and its weights. `readFile` resolves a weightsManifest path.
 * Every layer, activation or option outside [InputLayer] → GRU → Dense is refused by name.
 */
export function parseTfjsLayersModel(modelJson: unknown, readFile: (path: string) => Uint8Array, source: string): TfjsLayersGru {
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`);
  };
  if (!isObject(modelJson) || !isObject(modelJson.modelTopology)) return fail('not a TensorFlow.js model.json (no modelTopology object)');
  if (modelJson.format === 'graph-model' || isObject(modelJson.modelTopology) && Array.isArray(modelJson.modelTopology.node)) {
    fail('this is a TensorFlow.js graph model; only layers models (tf.LayersModel.save, format "layers-model") are supported');
  }
  const chain = layerChain(modelJson.modelTopology, fail);
  for (const l of chain) if (l.className === 'InputLayer') checkOptions(l, { sparse: isFalse, ragged: isFalse }, fail);
  if (chain[0]?.className === 'InputLayer') chain.shift();
  const denseAt = chain.findIndex((l) => l.className !== 'GRU');
  if (chain.length === 0) fail('the model has no layers');
  if (denseAt === 0) fail(`layer '${chain[0]!.name}' (${chain[0]!.className}) is not supported here: the model must start with a GRU layer`);
  if (denseAt === -1) fail(`the GRU layer '${chain[chain.length - 1]!.name}' is not followed by a Dense layer`);
  const gruLayers = chain.slice(0, denseAt);
  const denseLayer = chain[denseAt]!;
  if (denseLayer.className !== 'Dense') fail(`layer '${denseLayer.name}' (${denseLayer.className}) is not supported after the GRU (expected Dense)`);
  if (chain[denseAt + 1]) fail(`layer '${chain[denseAt + 1]!.name}' (${chain[denseAt + 1]!.className}) after Dense is not supported`);

  const weights = readWeights(modelJson.weightsManifest, readFile, fail);
  const grus: TfjsGruLayer[] = [];
  gruLayers.forEach((layer, k) => {
    const last = k === gruLayers.length - 1;
    let recurrentActivation: TfjsGruLayer['recurrentActivation'] = 'hardSigmoid';
    checkOptions(layer, {
      units: (v) => Number.isSafeInteger(v) && (v as number) > 0,
      activation: (v) => activationName(v) === 'tanh',
      recurrent_activation: (v) => {
        const a = activationName(v ?? 'hard_sigmoid');
        if (a === 'hard_sigmoid' || a === 'hardSigmoid') recurrentActivation = 'hardSigmoid';
        else if (a === 'sigmoid') recurrentActivation = 'sigmoid';
        else return false;
        return true;
      },
      use_bias: (v) => typeof v === 'boolean',
      // A GRU feeding another must return its sequences; the last one must return only its final state.
      return_sequences: last ? isFalse : (v) => v === true,
      return_state: isFalse,
      go_backwards: isFalse,
      stateful: isFalse,
      reset_after: isFalse,
      time_major: isFalse,
    }, fail);
    const H = layer.config.units as number;
    const w = layerWeights(layer, weights, fail);
    const inputSize = k === 0 ? kernelRows(layer, weights, fail) : grus[k - 1]!.hiddenSize;
    grus.push({
      name: layer.name,
      inputSize,
      hiddenSize: H,
      recurrentActivation,
      kernel: w('kernel', [inputSize, 3 * H])!,
      recurrentKernel: w('recurrent_kernel', [H, 3 * H])!,
      bias: layer.config.use_bias === false ? new Float32Array(3 * H) : w('bias', [3 * H])!,
    });
  });

  let denseActivation: TfjsLayersGru['dense']['activation'] = 'linear';
  checkOptions(denseLayer, {
    units: (v) => Number.isSafeInteger(v) && (v as number) > 0,
    activation: (v) => {
      const a = activationName(v ?? 'linear');
      if (a !== 'linear' && a !== 'softmax') return false;
      denseActivation = a;
      return true;
    },
    use_bias: (v) => typeof v === 'boolean',
  }, fail);
  const H = grus[grus.length - 1]!.hiddenSize;
  const O = denseLayer.config.units as number;
  const denseW = layerWeights(denseLayer, weights, fail);

  const I = grus[0]!.inputSize;
  const batchInputShape = findInputShape(modelJson.modelTopology);
  if (batchInputShape) {
    const declaredI = batchInputShape[batchInputShape.length - 1];
    if (batchInputShape.length !== 3) fail(`input shape ${JSON.stringify(batchInputShape)} is not [batch, seq, features]`);
    if (declaredI !== null && declaredI !== I) fail(`input shape says ${String(declaredI)} features but '${grus[0]!.name}/kernel' has ${I} rows`);
  }
  const seqDim = batchInputShape?.[1];
  return {
    kind: 'tfjs-layers',
    inputSize: I,
    outputSize: O,
    grus,
    dense: {
      name: denseLayer.name,
      kernel: denseW('kernel', [H, O])!,
      bias: denseLayer.config.use_bias === false ? new Float32Array(O) : denseW('bias', [O])!,
      activation: denseActivation,
    },
    declaredSeq: typeof seqDim === 'number' ? seqDim : null,
  };
}

/** Rows of the first GRU's kernel: the model's input size. */
function kernelRows(layer: LayerSpec, weights: Map<string, { shape: number[] }>, fail: (msg: string) => never): number {
  const shape = [...weights].find(([n]) => n.split('/')[0] === layer.name && /(^|\/)kernel(:\d+)?$/.test(n))?.[1].shape;
  if (!shape) return fail(`layer '${layer.name}': weight '${layer.name}/kernel' is missing from the weightsManifest`);
  if (shape.length !== 2 || !(shape[0]! > 0)) return fail(`layer '${layer.name}': weight 'kernel' has shape [${shape.join(', ')}], expected [input, ${3 * (layer.config.units as number)}]`);
  return shape[0]!;
}

/** The first batch_input_shape in the topology (the InputLayer's, or the first layer's). */
function findInputShape(topology: Json): (number | null)[] | undefined {
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const config = modelConfig.config;
  const layers = Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : [];
  for (const l of layers as unknown[]) {
    if (isObject(l) && isObject(l.config) && Array.isArray(l.config.batch_input_shape)) return l.config.batch_input_shape as (number | null)[];
  }
  return undefined;
}

/** A weightsManifest path, which must name a file beside model.json: a downloaded model may not read /etc or ../. */
function weightPath(dir: string, p: unknown, source: string): string {
  const full = resolve(dir, String(p));
  if (typeof p !== 'string' || p === '' || isAbsolute(p) || relative(resolve(dir), full).startsWith('..')) {
    throw new UserError(`${source}: weightsManifest path ${JSON.stringify(p)} is not a file name relative to model.json`);
  }
  return full;
}

/** Reads `model.json` (or a directory holding one) and the weight files it names, relative to it. */
export function loadTfjsLayersModel(path: string): TfjsLayersGru {
  const jsonPath = statSync(path, { throwIfNoEntry: false })?.isDirectory() ? join(path, 'model.json') : path;
  const text = new TextDecoder().decode(readFileWithin(jsonPath, LIMITS.tfjsFileBytes, 'model.json'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${jsonPath}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const dir = dirname(jsonPath);
  return parseTfjsLayersModel(json, (p) => readFileWithin(weightPath(dir, p, jsonPath), LIMITS.tfjsFileBytes, 'weight file'), jsonPath);
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));
const hardSigmoid = (a: number): number => Math.min(1, Math.max(0, HARD_SIGMOID_ALPHA * a + HARD_SIGMOID_BETA));

/** One GRU layer over a whole sequence: every hidden state h_1..h_T. */
function runGru(l: TfjsGruLayer, xs: Float64Array[]): Float64Array[] {
  const { inputSize: I, hiddenSize: H, kernel: K, recurrentKernel: RK, bias } = l;
  const act = l.recurrentActivation === 'sigmoid' ? sigmoid : hardSigmoid;
  const H3 = 3 * H;
  let h = new Float64Array(H);
  return xs.map((x) => {
    // matrixX = x K + bias, [3H], blocks z, r, h.
    const matrixX = Float64Array.from(bias);
    for (let i = 0; i < I; i++) for (let c = 0; c < H3; c++) matrixX[c]! += x[i]! * K[i * H3 + c]!;
    const recurrentZR = new Float64Array(2 * H);
    for (let i = 0; i < H; i++) for (let c = 0; c < 2 * H; c++) recurrentZR[c]! += h[i]! * RK[i * H3 + c]!;
    const z = new Float64Array(H);
    const rH = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      z[j] = act(matrixX[j]! + recurrentZR[j]!);
      rH[j] = act(matrixX[H + j]! + recurrentZR[H + j]!) * h[j]!;
    }
    const next = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let recurrentH = 0;
      for (let i = 0; i < H; i++) recurrentH += rH[i]! * RK[i * H3 + 2 * H + j]!;
      const hTilde = Math.tanh(matrixX[2 * H + j]! + recurrentH);
      next[j] = z[j]! * h[j]! + (1 - z[j]!) * hTilde;
    }
    h = next;
    return h;
  });
}

/** The model's `predict` in float64: x [batch, seq, input] row-major → logits [batch, output] (softmaxed when the Dense is). */
export function tfjsLayersForward(m: TfjsLayersGru, x: ArrayLike<number>, batch: number, seq: number): { logits: Float64Array } {
  const { inputSize: I, outputSize: O } = m;
  if (x.length !== batch * seq * I) throw new RangeError(`x has ${x.length} values, expected ${batch}×${seq}×${I}`);
  const H = m.grus[m.grus.length - 1]!.hiddenSize;
  const logits = new Float64Array(batch * O);
  for (let b = 0; b < batch; b++) {
    let xs: Float64Array[] = [];
    for (let t = 0; t < seq; t++) xs.push(Float64Array.from({ length: I }, (_, i) => x[(b * seq + t) * I + i]!));
    for (const l of m.grus) xs = runGru(l, xs);
    // At seq 0 the Dense reads the zero initial state, as the export's empty-x branch does.
    const h = seq > 0 ? xs[seq - 1]! : new Float64Array(H);
    const y = Float64Array.from(m.dense.bias);
    for (let i = 0; i < H; i++) for (let o = 0; o < O; o++) y[o]! += h[i]! * m.dense.kernel[i * O + o]!;
    if (m.dense.activation === 'softmax') {
      const max = Math.max(...y);
      let sum = 0;
      for (let o = 0; o < O; o++) sum += y[o] = Math.exp(y[o]! - max);
      for (let o = 0; o < O; o++) y[o]! /= sum;
    }
    logits.set(y, b * O);
  }
  return { logits };
}
