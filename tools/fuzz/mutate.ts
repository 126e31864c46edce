/**
 * Mutations of the files gru-onnx reads. Each takes a valid file and returns a hostile one plus a label naming
 * what was done, so a failing case can be reproduced from (seed, case index) and understood from its label.
 * Byte-level mutations know nothing of the format; structured ones edit one field so the file still parses far
 * enough to reach the deeper checks (lengths that lie, huge or negative dimensions, wrong dtypes, duplicate
 * names, cycles).
 */
import type { Rng } from '@gru-onnx/model';
import { allGraphs, onnx } from '@gru-onnx/onnx';

export interface Mutation<T> {
  label: string;
  value: T;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** A private copy: a Node Buffer's slice() is a view, and mutating it would corrupt the seed. */
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/** Sizes that break allocation or arithmetic: 10⁹ hidden units, 2³¹, 2⁵³, negative, zero, fractional. */
export const HOSTILE_DIMS = [1e9, 2 ** 31, 2 ** 32 + 1, 2 ** 53, -1, -(2 ** 31), 0, 3e9, 65_537] as const;
const HOSTILE_JSON_VALUES: unknown[] = [1e9, -1, 0, 1.5, 1e308, -1e9, '4', null, true, [], {}, 2 ** 53];

// ---------------------------------------------------------------- bytes

/**
 * Byte-level: truncation at a region boundary (±2 bytes) or anywhere, bit flips, random bytes over a span,
 * insertion, deletion, appended junk. `regions` are offsets where the format changes meaning (end of the length
 * prefix, end of the header, each tensor's start), so truncations land on every region, not only in the data.
 */
export function mutateBytes(rng: Rng, bytes: Uint8Array, regions: readonly number[] = []): Mutation<Uint8Array> {
  const n = bytes.length;
  const op = rng.int(7);
  if (op === 0 || op === 1) {
    const at = op === 0 && regions.length > 0 ? clamp(pick(rng, regions) + rng.int(5) - 2, 0, n) : rng.int(n + 1);
    return { label: `truncate at ${at}/${n}`, value: copy(bytes.subarray(0, at)) };
  }
  if (op === 2) {
    const out = copy(bytes);
    const flips = 1 + rng.int(8);
    for (let i = 0; i < flips; i++) out[rng.int(n)]! ^= 1 << rng.int(8);
    return { label: `flip ${flips} bits`, value: out };
  }
  if (op === 3) {
    const out = copy(bytes);
    const len = 1 + rng.int(Math.min(64, n));
    const at = rng.int(Math.max(1, n - len));
    for (let i = 0; i < len && at + i < n; i++) out[at + i] = rng.int(256);
    return { label: `random ${len} bytes at ${at}`, value: out };
  }
  if (op === 4) {
    const at = rng.int(n + 1);
    const junk = randomBytes(rng, 1 + rng.int(32));
    return { label: `insert ${junk.length} bytes at ${at}`, value: concat(bytes.subarray(0, at), junk, bytes.subarray(at)) };
  }
  if (op === 5) {
    const at = rng.int(n);
    const len = 1 + rng.int(Math.min(32, n - at));
    return { label: `delete ${len} bytes at ${at}`, value: concat(bytes.subarray(0, at), bytes.subarray(at + len)) };
  }
  if (rng.int(4) === 0) return { label: 'entirely random bytes', value: randomBytes(rng, rng.int(2 * n + 1)) };
  return { label: 'append junk', value: concat(bytes, randomBytes(rng, 1 + rng.int(64))) };
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

// ---------------------------------------------------------------- safetensors

/** Offsets where a safetensors file changes region: the length prefix, the header, each tensor's data. */
export function safetensorsRegions(bytes: Uint8Array): number[] {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets?: [number, number] }>;
  const starts = Object.values(header).flatMap((v) => (v.data_offsets ? [8 + n + v.data_offsets[0]] : []));
  return [0, 4, 8, 9, 8 + (n >> 1), 8 + n, ...starts, bytes.length];
}

/**
 * Edits a safetensors header: a length prefix that lies, a tensor's shape made huge/negative/odd (the data
 * offsets kept, or made to agree), a wrong dtype, lying offsets, a duplicated name (raw JSON text, since a JS
 * object cannot hold two), a metadata config that disagrees.
 */
export function mutateSafetensors(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const header = JSON.parse(headerText) as Record<string, Record<string, unknown>>;
  const data = bytes.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = pick(rng, names);
  const entry = header[name]!;
  const op = rng.int(8);
  let label: string;
  if (op === 0) {
    const lie = pick(rng, [n + 1, n - 1, n + 8, 0, 7, 2 ** 40, 2 ** 64 - 1, bytes.length]);
    const out = copy(bytes);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(lie)), true);
    return { label: `header length lies: ${lie} (real ${n})`, value: out };
  }
  if (op === 1) {
    const shape = [...(entry.shape as number[])];
    const d = pick(rng, HOSTILE_DIMS);
    shape[rng.int(Math.max(1, shape.length))] = d;
    entry.shape = shape;
    label = `tensor '${name}' shape ${JSON.stringify(shape)}`;
  } else if (op === 2) {
    // Hidden size 10⁹ told consistently: shape and offsets agree, only the data is missing.
    const shape = (entry.shape as number[]).map((s, i) => (i === 0 ? 1e9 : s));
    entry.shape = shape;
    const [b] = entry.data_offsets as [number, number];
    entry.data_offsets = [b, b + 4 * shape.reduce((a, x) => a * x, 1)];
    label = `tensor '${name}' consistent huge shape ${JSON.stringify(shape)}`;
  } else if (op === 3) {
    entry.dtype = pick(rng, ['F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'f32', 'F32 ', '', 'Q4']);
    label = `tensor '${name}' dtype ${JSON.stringify(entry.dtype)}`;
  } else if (op === 4) {
    const off = [...(entry.data_offsets as number[])];
    off[rng.int(2)] = pick(rng, [...HOSTILE_DIMS, data.length, data.length + 4]);
    entry.data_offsets = off;
    label = `tensor '${name}' data_offsets ${JSON.stringify(off)}`;
  } else if (op === 5) {
    entry[pick(rng, ['shape', 'dtype', 'data_offsets'])] = pick(rng, HOSTILE_JSON_VALUES);
    label = `tensor '${name}' field replaced with a wrong type`;
  } else if (op === 6) {
    header.__metadata__ = { ...(header.__metadata__ ?? {}), config: pick(rng, ['{"inputSize":3,"hiddenSize":1000000000,"outputSize":2}', '{', '[]', '{"inputSize":-1}', 'null']) };
    label = `__metadata__.config ${header.__metadata__.config as string}`;
  } else {
    // Duplicate name: JSON with the key twice; a parser keeps the last, so the first tensor's bytes go unclaimed.
    const other = pick(rng, names);
    const text = JSON.stringify(header).replace(/^\{/, `{${JSON.stringify(name)}:${JSON.stringify(header[other])},`);
    return { label: `duplicate name '${name}' (first copy describes '${other}')`, value: withHeader(text, data) };
  }
  return { label, value: withHeader(JSON.stringify(header), data) };
}

function withHeader(text: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

// ---------------------------------------------------------------- protobuf (ONNX)

/**
 * Offsets of every length-delimited field's length varint, walking nested messages where the bytes parse as one.
 * A lying length at any of them exercises the decoder's bounds checks at every depth.
 */
export function protobufLengthSites(bytes: Uint8Array): { at: number; width: number; value: number }[] {
  const sites: { at: number; width: number; value: number }[] = [];
  const walk = (start: number, end: number, depth: number): boolean => {
    let p = start;
    while (p < end) {
      const tag = varint(bytes, p, end);
      if (!tag) return false;
      p = tag.next;
      const wire = tag.value & 7;
      if (wire === 0) {
        const v = varint(bytes, p, end);
        if (!v) return false;
        p = v.next;
      } else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const len = varint(bytes, p, end);
        if (!len || len.next + len.value > end) return false;
        sites.push({ at: p, width: len.next - p, value: len.value });
        if (depth < 6) walk(len.next, len.next + len.value, depth + 1);
        p = len.next + len.value;
      } else return false;
    }
    return p === end;
  };
  walk(0, bytes.length, 0);
  return sites;
}

function varint(b: Uint8Array, p: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 5 && p < end; i++, p++) {
    value += (b[p]! & 0x7f) * mul;
    mul *= 128;
    if ((b[p]! & 0x80) === 0) return { value, next: p + 1 };
  }
  return undefined;
}

/** Rewrites one length varint (same width, so nothing else moves) to a value that lies. */
export function lieAboutLength(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const sites = protobufLengthSites(bytes);
  if (sites.length === 0) return mutateBytes(rng, bytes);
  const s = pick(rng, sites);
  const max = 128 ** s.width - 1;
  const lie = clamp(pick(rng, [s.value + 1, s.value - 1, s.value + 100, 0, max, Math.floor(s.value / 2)]), 0, max);
  const out = copy(bytes);
  let v = lie;
  for (let i = 0; i < s.width; i++) {
    out[s.at + i] = (v & 0x7f) | (i < s.width - 1 ? 0x80 : 0);
    v = Math.floor(v / 128);
  }
  return { label: `protobuf length at ${s.at} says ${lie} (real ${s.value})`, value: out };
}

/** A decoded graph with every list this file edits present (protobufjs leaves absent ones null in the types). */
function listsOf(g: onnx.IGraphProto) {
  const node = (g.node ?? []).map((n) => Object.assign(n, { name: n.name ?? '', input: n.input ?? [], output: n.output ?? [], attribute: n.attribute ?? [] }));
  const initializer = (g.initializer ?? []).map((t) => Object.assign(t, { name: t.name ?? '', dims: t.dims ?? [], rawData: t.rawData ?? new Uint8Array(0) }));
  return Object.assign(g, { node, initializer, input: g.input ?? [], output: g.output ?? [] });
}

/**
 * Edits a decoded ONNX model: initializer dims huge/negative (data kept), wrong data types, hidden_size lies,
 * duplicate node/initializer/output names, a cycle (a node reads a later node's output), a missing node, input
 * dims huge, element types changed, opset removed or odd. Re-encoded, so the protobuf itself is well-formed.
 */
export function mutateOnnx(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const m = onnx.ModelProto.decode(bytes);
  const main = listsOf((m.graph ??= {}));
  // Node and initializer edits hit the main graph or any subgraph (the GRU node and its weights sit in an If
  // branch); input and output edits stay on the main graph's signature.
  const g = listsOf(pick(rng, allGraphs(main)));
  const op = rng.int(11);
  let label: string;
  const init = g.initializer.length > 0 ? pick(rng, g.initializer) : undefined;
  const node = g.node.length > 0 ? pick(rng, g.node) : undefined;
  if (op === 0 && init) {
    const dims = init.dims.map(Number);
    dims[rng.int(Math.max(1, dims.length))] = pick(rng, HOSTILE_DIMS);
    init.dims = dims;
    label = `initializer '${init.name}' dims [${dims.join(', ')}]`;
  } else if (op === 1 && init) {
    // Hidden size 10⁹ in dims and a GRU hidden_size that agrees: only the data is missing.
    init.dims = init.dims.map((d, i) => (i === 1 ? 3e9 : Number(d)));
    for (const n of g.node) for (const a of n.attribute) if (a.name === 'hidden_size') a.i = 1e9;
    label = `initializer '${init.name}' dims [${init.dims.join(', ')}], hidden_size 1e9`;
  } else if (op === 2 && init) {
    init.dataType = pick(rng, [0, 2, 6, 7, 10, 11, 13, 16, 99]);
    label = `initializer '${init.name}' data type ${init.dataType}`;
  } else if (op === 3 && node) {
    const hs = node.attribute.find((a) => a.name === 'hidden_size');
    if (hs) hs.i = pick(rng, HOSTILE_DIMS);
    else node.attribute.push(onnx.AttributeProto.create({ name: pick(rng, ['hidden_size', 'axis', 'perm']), type: onnx.AttributeProto.AttributeType.INT, i: pick(rng, HOSTILE_DIMS) }));
    label = `node '${node.name}' (${node.opType}) attribute set to a hostile int`;
  } else if (op === 4 && g.node.length > 1) {
    const [a, b] = [g.node[0]!, pick(rng, g.node.slice(1))];
    if (rng.int(2) === 0) {
      b.name = a.name;
      label = `duplicate node name '${a.name}'`;
    } else {
      b.output = [...a.output];
      label = `node '${b.name}' also produces '${a.output.join(', ')}'`;
    }
  } else if (op === 5 && g.node.length > 1) {
    // A cycle: the first node reads the last node's output (and, when it can, the last reads the first's).
    const first = g.node[0]!;
    const last = g.node[g.node.length - 1]!;
    if (first.input.length > 0 && last.output.length > 0) first.input[0] = last.output[0]!;
    if (rng.int(2) === 0) g.node.reverse();
    label = `cycle: '${first.name}' reads '${last.output[0]}'`;
  } else if (op === 6 && node) {
    g.node.splice(g.node.indexOf(node), 1);
    label = `node '${node.name}' (${node.opType}) removed`;
  } else if (op === 7) {
    const v = pick(rng, [...main.input, ...main.output]);
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    if (dims.length > 0) {
      // Half the time the last axis: a graph declaring 10⁹ input features or hidden units.
      const d = rng.int(2) === 0 ? dims[dims.length - 1]! : pick(rng, dims);
      d.dimParam = '';
      d.dimValue = pick(rng, HOSTILE_DIMS);
    }
    if (v.type?.tensorType && rng.int(2) === 0) v.type.tensorType.elemType = pick(rng, [0, 6, 7, 10, 11, 99]);
    label = `value '${v.name}' type or dims changed`;
  } else if (op === 8) {
    if (rng.int(2) === 0) m.opsetImport = [];
    else for (const o of m.opsetImport) o.version = pick(rng, [0, 1, 6, 99, -1]);
    label = 'opset imports removed or odd';
  } else if (op === 9 && init) {
    const dup = onnx.TensorProto.create({ ...init, name: init.name });
    g.initializer.push(dup);
    if (rng.int(2) === 0 && g.output[0]) g.output.push(onnx.ValueInfoProto.create({ ...g.output[0] }));
    label = `duplicate initializer '${init.name}' (maybe a duplicate output)`;
  } else {
    if (g.output.length > 0 && rng.int(2) === 0) {
      g.output[0]!.name = pick(rng, ['nonexistent', '', ...g.node.flatMap((n) => n.input)]);
      label = `output renamed '${g.output[0]!.name}'`;
    } else {
      for (const t of g.initializer) t.rawData = t.rawData.subarray(0, Math.max(0, t.rawData.length - 4 * (1 + rng.int(3))));
      label = 'every initializer loses a few values';
    }
  }
  return { label, value: onnx.ModelProto.encode(m).finish() };
}

/** Bit flips confined to initializer data: the model stays valid and ORT must run it; the answer changes. */
export function flipWeightBits(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const m = onnx.ModelProto.decode(bytes);
  const inits = allGraphs((m.graph ??= {})).flatMap((g) => listsOf(g).initializer).filter((t) => (t.rawData?.length ?? 0) >= 4);
  if (inits.length === 0) return mutateOnnx(rng, bytes);
  const t = pick(rng, inits);
  const raw = copy(t.rawData ?? new Uint8Array(0));
  const at = rng.int(raw.length);
  raw[at]! ^= 1 << rng.int(8);
  t.rawData = raw;
  return { label: `flip a bit of initializer '${t.name}' byte ${at}`, value: onnx.ModelProto.encode(m).finish() };
}

// ---------------------------------------------------------------- tfjs model.json

type Json = Record<string, unknown>;

/**
 * Edits a tfjs model.json (and says whether weights.bin should be mutated too): units 10⁹ or odd, weight shapes
 * huge/negative/fractional, dtypes, duplicate weight names, paths outside the directory or missing, layers
 * removed, duplicated or made into a cycle (functional inbound_nodes).
 */
export function mutateModelJson(rng: Rng, json: Json): Mutation<Json> {
  const j = structuredClone(json);
  const topo = j.modelTopology as Json;
  const layers = ((topo.config as Json).layers as Json[]) ?? [];
  const manifest = (j.weightsManifest as Json[])[0]!;
  const weights = manifest.weights as Json[];
  const op = rng.int(9);
  const layer = pick(rng, layers);
  const cfg = layer.config as Json;
  if (op === 0) {
    cfg.units = pick(rng, [1e9, ...HOSTILE_JSON_VALUES]);
    return { label: `layer '${String(cfg.name)}' units ${JSON.stringify(cfg.units)}`, value: j };
  }
  if (op === 1) {
    const w = pick(rng, weights);
    const shape = [...(w.shape as number[])];
    shape[rng.int(shape.length)] = pick(rng, [...HOSTILE_DIMS, 1.5, NaN]) as number;
    w.shape = rng.int(4) === 0 ? pick(rng, HOSTILE_JSON_VALUES) : shape;
    return { label: `weight '${String(w.name)}' shape ${JSON.stringify(w.shape)}`, value: j };
  }
  if (op === 2) {
    const w = pick(rng, weights);
    w.dtype = pick(rng, ['int32', 'float16', 'bool', 'string', 'complex64', null, 7]);
    if (rng.int(3) === 0) w.quantization = { dtype: 'uint8', scale: 1, min: 0 };
    return { label: `weight '${String(w.name)}' dtype ${JSON.stringify(w.dtype)}`, value: j };
  }
  if (op === 3) {
    const a = pick(rng, weights);
    const b = pick(rng, weights);
    b.name = a.name;
    return { label: `duplicate weight name '${String(a.name)}'`, value: j };
  }
  if (op === 4) {
    manifest.paths = [pick(rng, ['../../../../etc/hostname', '/etc/hostname', 'missing.bin', '.', '', 'weights.bin/x', '../seeds'])];
    return { label: `weightsManifest paths ${JSON.stringify(manifest.paths)}`, value: j };
  }
  if (op === 5) {
    if (rng.int(2) === 0) layers.splice(layers.indexOf(layer), 1);
    else layers.push(structuredClone(layer));
    return { label: `layer '${String(cfg.name)}' removed or duplicated`, value: j };
  }
  if (op === 6) {
    // Functional model whose layers form a cycle: each layer's inbound node is the next one's output.
    topo.class_name = 'Model';
    const names = layers.map((l) => String((l.config as Json).name));
    layers.forEach((l, i) => (l.inbound_nodes = [[[names[(i + 1) % names.length], 0, 0, {}]]]));
    return { label: `functional model with cyclic inbound_nodes over ${names.join(' → ')}`, value: j };
  }
  if (op === 7) {
    cfg[pick(rng, ['activation', 'recurrent_activation', 'batch_input_shape', 'return_sequences', 'reset_after', 'dtype'])] = pick(rng, [...HOSTILE_JSON_VALUES, 'relu', 'float64', [null, 1e9, 3]]);
    return { label: `layer '${String(cfg.name)}' option set to a hostile value`, value: j };
  }
  const keys = ['modelTopology', 'weightsManifest', 'format'];
  const k = pick(rng, keys);
  j[k] = pick(rng, HOSTILE_JSON_VALUES);
  return { label: `top-level '${k}' replaced`, value: j };
}

// ---------------------------------------------------------------- bundle tensors

/** Edits one TensorProto file of a bundle: dims huge/negative, data type, raw data cut short. */
export function mutateTensorProto(rng: Rng, bytes: Uint8Array): Mutation<Uint8Array> {
  const t = onnx.TensorProto.decode(bytes);
  const op = rng.int(4);
  if (op === 0) {
    const dims = t.dims.map(Number);
    dims[rng.int(Math.max(1, dims.length))] = pick(rng, HOSTILE_DIMS);
    t.dims = dims;
  } else if (op === 1) t.dataType = pick(rng, [0, 6, 7, 10, 11, 99]);
  else if (op === 2) t.rawData = t.rawData.subarray(0, rng.int(t.rawData.length));
  else {
    // NaN in a stored input or output: NaN inputs must be refused up front; a NaN expected value is a mismatch.
    const raw = copy(t.rawData);
    new DataView(raw.buffer).setFloat32(4 * rng.int(raw.length >> 2), pick(rng, [NaN, Infinity, -Infinity]), true);
    t.rawData = raw;
  }
  return { label: `tensor '${t.name}' ${['dims', 'data type', 'raw data cut', 'non-finite value'][op]}`, value: onnx.TensorProto.encode(t).finish() };
}
