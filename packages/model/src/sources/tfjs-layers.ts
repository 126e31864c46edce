import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { LIMITS, readFileWithin } from '../limits.ts';
import type { SourceOutputs, SourceState } from './source-model.ts';
import { TFJS_GATES, tfjsCellStep, type TfjsCell, type TfjsLayerState, type TfjsRecurrentActivation, type TfjsRecurrentLayer, type TfjsRnnActivation } from './tfjs-cells.ts';

/**
 * A TensorFlow.js layers model: [InputLayer] → recurrent layers (GRU, LSTM, SimpleRNN, mixed in any order) → Dense,
 * read from `model.json` and its weight files. Every recurrent layer but the last returns its sequences (feeding
 * the next); the last returns its final state, which the Dense reads: y = act(h_T K_dense + b_dense), act linear
 * or softmax. The cells' equations are in tfjs-cells.ts.
 */
export interface TfjsLayersModel {
  kind: 'tfjs-layers';
  inputSize: number;
  outputSize: number;
  /** In data-flow order; the Dense reads the last one's final state. */
  layers: TfjsRecurrentLayer[];
  /** kernel [H_last, O], bias [O] (zeros when useBias is false). */
  dense: { name: string; kernel: Float32Array; bias: Float32Array; activation: 'linear' | 'softmax' };
  /** Time steps the model declares (batch_input_shape[1]); null when any length is accepted. */
  declaredSeq: number | null;
}

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

/** The recurrent layer classes read here; each saves kernel [I, G·H], recurrent_kernel [H, G·H], bias [G·H]. */
const RECURRENT_CLASSES: readonly string[] = ['GRU', 'LSTM', 'SimpleRNN'] satisfies TfjsCell[];

/** What a refused layer class is, where its name alone does not say why. */
const REFUSED_CLASSES: Readonly<Record<string, string>> = {
  Bidirectional: 'a Bidirectional wrapper; only forward GRU, LSTM and SimpleRNN layers are supported',
  RNN: 'a generic RNN layer around a cell; only GRU, LSTM and SimpleRNN layers are supported',
  TimeDistributed: 'a TimeDistributed wrapper; only GRU, LSTM and SimpleRNN layers followed by one Dense are supported',
};

const isRecurrent = (l: LayerSpec): boolean => RECURRENT_CLASSES.includes(l.className);

function refused(l: LayerSpec, where: string): string {
  return `layer '${l.name}' (${l.className}) is not supported ${where}${REFUSED_CLASSES[l.className] ? ` (${REFUSED_CLASSES[l.className]})` : ''}`;
}

/**
 * Parses a layers model.json (already JSON-decoded) and its weights. `readFile` resolves a weightsManifest path.
 * Every layer, activation or option outside [InputLayer] → GRU | LSTM | SimpleRNN (…) → Dense is refused by name.
 */
export function parseTfjsLayersModel(modelJson: unknown, readFile: (path: string) => Uint8Array, source: string): TfjsLayersModel {
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
  const denseAt = chain.findIndex((l) => !isRecurrent(l));
  if (chain.length === 0) fail('the model has no layers');
  if (denseAt === 0) fail(refused(chain[0]!, 'here: the model must start with a GRU, LSTM or SimpleRNN layer'));
  if (denseAt === -1) fail(`the ${chain[chain.length - 1]!.className} layer '${chain[chain.length - 1]!.name}' is not followed by a Dense layer`);
  const recurrentLayers = chain.slice(0, denseAt);
  const denseLayer = chain[denseAt]!;
  if (denseLayer.className !== 'Dense') fail(refused(denseLayer, `after the ${chain[denseAt - 1]!.className} (expected Dense)`));
  if (chain[denseAt + 1]) fail(refused(chain[denseAt + 1]!, 'after Dense'));

  const weights = readWeights(modelJson.weightsManifest, readFile, fail);
  const layers: TfjsRecurrentLayer[] = [];
  recurrentLayers.forEach((layer, k) => {
    const inputSize = k === 0 ? kernelRows(layer, weights, fail) : layers[k - 1]!.hiddenSize;
    layers.push(parseRecurrentLayer(layer, inputSize, k === recurrentLayers.length - 1, weights, fail));
  });

  let denseActivation: TfjsLayersModel['dense']['activation'] = 'linear';
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
  const H = layers[layers.length - 1]!.hiddenSize;
  const O = denseLayer.config.units as number;
  const denseW = layerWeights(denseLayer, weights, fail);

  const I = layers[0]!.inputSize;
  const batchInputShape = findInputShape(modelJson.modelTopology);
  if (batchInputShape) {
    const declaredI = batchInputShape[batchInputShape.length - 1];
    if (batchInputShape.length !== 3) fail(`input shape ${JSON.stringify(batchInputShape)} is not [batch, seq, features]`);
    if (declaredI !== null && declaredI !== I) fail(`input shape says ${String(declaredI)} features but '${layers[0]!.name}/kernel' has ${I} rows`);
  }
  const seqDim = batchInputShape?.[1];
  return {
    kind: 'tfjs-layers',
    inputSize: I,
    outputSize: O,
    layers,
    dense: {
      name: denseLayer.name,
      kernel: denseW('kernel', [H, O])!,
      bias: denseLayer.config.use_bias === false ? new Float32Array(O) : denseW('bias', [O])!,
      activation: denseActivation,
    },
    declaredSeq: typeof seqDim === 'number' ? seqDim : null,
  };
}

/** recurrent_activation as tfjs (hardSigmoid) and Keras (hard_sigmoid) write it; undefined when neither σ. */
function recurrentActivationOf(v: unknown): TfjsRecurrentActivation | undefined {
  const a = activationName(v ?? 'hard_sigmoid');
  if (a === 'hard_sigmoid' || a === 'hardSigmoid') return 'hardSigmoid';
  if (a === 'sigmoid') return 'sigmoid';
  return undefined;
}

/** One GRU, LSTM or SimpleRNN layer: its options checked (each refusal names the option), its weights read. */
function parseRecurrentLayer(
  layer: LayerSpec,
  inputSize: number,
  last: boolean,
  weights: Map<string, { shape: number[]; data: Float32Array }>,
  fail: (msg: string) => never,
): TfjsRecurrentLayer {
  const cell = layer.className as TfjsCell;
  let recurrentActivation: TfjsRecurrentActivation = 'hardSigmoid';
  let activation: TfjsRnnActivation = 'tanh';
  const common: Record<string, (v: unknown) => boolean> = {
    units: (v) => Number.isSafeInteger(v) && (v as number) > 0,
    use_bias: (v) => typeof v === 'boolean',
    // A layer feeding another must return its sequences; the last one must return only its final state.
    return_sequences: last ? isFalse : (v) => v === true,
    return_state: isFalse,
    go_backwards: isFalse,
    stateful: isFalse,
    time_major: isFalse,
  };
  const tanhOnly = (v: unknown) => activationName(v ?? 'tanh') === 'tanh';
  const gated = {
    recurrent_activation: (v: unknown) => {
      const a = recurrentActivationOf(v);
      if (a) recurrentActivation = a;
      return a !== undefined;
    },
  };
  const checked: Record<TfjsCell, Record<string, (v: unknown) => boolean>> = {
    GRU: { ...common, ...gated, activation: tanhOnly, reset_after: isFalse },
    // unit_forget_bias only chose the forget bias's initial value (ones): the saved bias holds what training made of it.
    LSTM: { ...common, ...gated, activation: tanhOnly, unit_forget_bias: (v) => v === undefined || v === null || typeof v === 'boolean' },
    SimpleRNN: {
      ...common,
      activation: (v) => {
        const a = activationName(v ?? 'tanh');
        if (a !== 'tanh' && a !== 'relu' && a !== 'linear') return false;
        activation = a;
        return true;
      },
    },
  };
  checkOptions(layer, checked[cell], fail);
  const H = layer.config.units as number;
  const GH = TFJS_GATES[cell] * H;
  const w = layerWeights(layer, weights, fail);
  const base = {
    name: layer.name,
    inputSize,
    hiddenSize: H,
    kernel: w('kernel', [inputSize, GH])!,
    recurrentKernel: w('recurrent_kernel', [H, GH])!,
    bias: layer.config.use_bias === false ? new Float32Array(GH) : w('bias', [GH])!,
  };
  switch (cell) {
    case 'GRU':
      return { cell, ...base, recurrentActivation };
    case 'LSTM':
      return { cell, ...base, recurrentActivation, unitForgetBias: layer.config.unit_forget_bias === true };
    case 'SimpleRNN':
      return { cell, ...base, activation };
  }
}

/** Rows of the first recurrent layer's kernel: the model's input size. */
function kernelRows(layer: LayerSpec, weights: Map<string, { shape: number[] }>, fail: (msg: string) => never): number {
  const shape = [...weights].find(([n]) => n.split('/')[0] === layer.name && /(^|\/)kernel(:\d+)?$/.test(n))?.[1].shape;
  if (!shape) return fail(`layer '${layer.name}': weight '${layer.name}/kernel' is missing from the weightsManifest`);
  if (shape.length !== 2 || !(shape[0]! > 0)) return fail(`layer '${layer.name}': weight 'kernel' has shape [${shape.join(', ')}], expected [input, ${TFJS_GATES[layer.className as TfjsCell] * (layer.config.units as number)}]`);
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
export function loadTfjsLayersModel(path: string): TfjsLayersModel {
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


/**
 * The contract's state slots for a tfjs model: one h per recurrent layer (S = layers, all forward), one c per
 * LSTM layer, and H when every layer has the same units (h0/h_n [S, batch, H] need it; undefined otherwise).
 */
export function tfjsStateSizes(m: TfjsLayersModel): { slots: number; lstmSlots: number; hiddenSize: number | undefined; lastFeatures: number } {
  const H = m.layers[0]!.hiddenSize;
  return {
    slots: m.layers.length,
    lstmSlots: m.layers.filter((l) => l.cell === 'LSTM').length,
    hiddenSize: m.layers.every((l) => l.hiddenSize === H) ? H : undefined,
    lastFeatures: m.layers[m.layers.length - 1]!.hiddenSize,
  };
}

/**
 * The model's `predict` in float64, with its states: x [batch, seq, input] row-major, optional h0 [S, batch, H]
 * and c0 [S_lstm, batch, H] (zeros when absent, as tfjs starts) → logits [batch, O] (softmaxed when the Dense is),
 * hiddenStates [batch, seq, H_last] (the last layer's output at every step), hN [S, batch, H] and, with LSTM
 * layers, cN [S_lstm, batch, H]. Where the layers' units differ, hN and cN are each layer's [batch, H_k] block
 * in turn (the same layout when they agree), and h0/c0 are refused. At seq 0, hN = h0 and the Dense reads it.
 */
export function tfjsLayersForward(m: TfjsLayersModel, x: ArrayLike<number>, batch: number, seq: number, state: SourceState = {}): SourceOutputs {
  const { inputSize: I, outputSize: O } = m;
  if (x.length !== batch * seq * I) throw new RangeError(`x has ${x.length} values, expected ${batch}×${seq}×${I}`);
  const sizes = tfjsStateSizes(m);
  const lstms = m.layers.filter((l) => l.cell === 'LSTM');
  const given = { h0: state.h0, c0: state.c0 };
  if ((given.h0 || given.c0) && sizes.hiddenSize === undefined) {
    throw new UserError(`h0 and c0 need every recurrent layer to have the same units; this model's are ${m.layers.map((l) => l.hiddenSize).join(', ')}`);
  }
  if (given.c0 && lstms.length === 0) throw new UserError('c0 is for LSTM layers; this model has none');
  for (const [name, slots] of [['h0', sizes.slots], ['c0', sizes.lstmSlots]] as const) {
    const v = given[name];
    if (v && v.length !== slots * batch * sizes.hiddenSize!) throw new RangeError(`${name} has ${v.length} values, expected ${slots}×${batch}×${sizes.hiddenSize}`);
  }
  // Offsets of each layer's [batch, H_k] block in hN, and of each LSTM's in cN.
  const hAt: number[] = [];
  const cAt = new Map<TfjsRecurrentLayer, number>();
  let hSize = 0;
  let cSize = 0;
  for (const l of m.layers) {
    hAt.push(hSize);
    hSize += batch * l.hiddenSize;
    if (l.cell === 'LSTM') {
      cAt.set(l, cSize);
      cSize += batch * l.hiddenSize;
    }
  }
  const hN = new Float64Array(hSize);
  const cN = new Float64Array(cSize);
  const hLast = sizes.lastFeatures;
  const hiddenStates = new Float64Array(batch * seq * hLast);
  const logits = new Float64Array(batch * O);
  for (let b = 0; b < batch; b++) {
    let xs: Float64Array[] = [];
    for (let t = 0; t < seq; t++) xs.push(Float64Array.from({ length: I }, (_, i) => x[(b * seq + t) * I + i]!));
    m.layers.forEach((l, k) => {
      const H = l.hiddenSize;
      const from = (v: ArrayLike<number> | undefined, at: number) => Float64Array.from({ length: H }, (_, j) => (v ? v[at + b * H + j]! : 0));
      let s: TfjsLayerState = { h: from(given.h0, hAt[k]!), ...(l.cell === 'LSTM' ? { c: from(given.c0, cAt.get(l)!) } : {}) };
      xs = xs.map((xt) => {
        s = tfjsCellStep(l, xt, s);
        return s.h;
      });
      hN.set(s.h, hAt[k]! + b * H);
      if (s.c) cN.set(s.c, cAt.get(l)! + b * H);
    });
    xs.forEach((h, t) => hiddenStates.set(h, (b * seq + t) * hLast));
    // The Dense reads the last layer's final state: h0's (zeros without it) at seq 0.
    const h = hN.subarray(hAt[m.layers.length - 1]! + b * hLast, hAt[m.layers.length - 1]! + (b + 1) * hLast);
    const y = Float64Array.from(m.dense.bias);
    for (let i = 0; i < hLast; i++) for (let o = 0; o < O; o++) y[o]! += h[i]! * m.dense.kernel[i * O + o]!;
    if (m.dense.activation === 'softmax') {
      const max = Math.max(...y);
      let sum = 0;
      for (let o = 0; o < O; o++) sum += y[o] = Math.exp(y[o]! - max);
      for (let o = 0; o < O; o++) y[o]! /= sum;
    }
    logits.set(y, b * O);
  }
  return { logits, hiddenStates, hN, ...(lstms.length > 0 ? { cN } : {}) };
}
