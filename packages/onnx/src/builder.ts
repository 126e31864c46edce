/**
 * A small declarative ONNX builder over the protobufjs classes, one verb per message, after onnx's `helper.py`.
 * Attributes are emitted in sorted order and unset fields are left out, so the same arguments always encode to
 * the same bytes.
 */
import { UserError } from '@gru-onnx/model';
import { onnx } from './proto.ts';

export type DataType = 'float32' | 'int64' | 'int32' | 'bool';

const DATA_TYPE: Record<DataType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** The builder's name for a tensor's data type, e.g. to declare an initializer as a graph input. */
export function dataTypeOf(t: onnx.ITensorProto): DataType {
  const found = (Object.keys(DATA_TYPE) as DataType[]).find((k) => DATA_TYPE[k] === t.dataType);
  if (!found) throw new Error(`tensor ${t.name}: data type ${t.dataType} is not one the builder writes`);
  return found;
}

/** A dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

/**
 * A tensor constant. Values go to `raw_data` little-endian, as exporters commonly write them; int64 values must
 * be safe integers.
 */
export function makeTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  values: ArrayLike<number>,
): onnx.TensorProto {
  const count = dims.reduce((a, d) => a * d, 1);
  if (values.length !== count) throw new UserError(`tensor ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
  const width = dataType === 'int64' ? 8 : dataType === 'bool' ? 1 : 4;
  const raw = new Uint8Array(count * width);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (dataType === 'float32') view.setFloat32(i * 4, v, true);
    else if (dataType === 'int32') view.setInt32(i * 4, v, true);
    else if (dataType === 'bool') view.setUint8(i, v ? 1 : 0);
    else {
      if (!Number.isSafeInteger(v)) throw new UserError(`tensor ${name}: ${v} is not an int64 value`);
      view.setBigInt64(i * 8, BigInt(v), true);
    }
  }
  return onnx.TensorProto.create({ name, dataType: DATA_TYPE[dataType], dims: [...dims], rawData: raw });
}

/** An attribute value; arrays of numbers become `ints` when every element is an integer given via `ints()`. */
export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'strings'; value: readonly string[] }
  | { kind: 'graph'; value: onnx.GraphProto }
  | { kind: 'tensor'; value: onnx.TensorProto };

/** Shorthands so call sites read like the ONNX operator spec. */
export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  strings: (value: readonly string[]): AttributeValue => ({ kind: 'strings', value }),
  graph: (value: onnx.GraphProto): AttributeValue => ({ kind: 'graph', value }),
  tensor: (value: onnx.TensorProto): AttributeValue => ({ kind: 'tensor', value }),
};

const utf8 = new TextEncoder();

function makeAttribute(name: string, a: AttributeValue): onnx.AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return onnx.AttributeProto.create({ name, type: T.INT, i: a.value });
    case 'float':
      return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.value });
    case 'string':
      return onnx.AttributeProto.create({ name, type: T.STRING, s: utf8.encode(a.value) });
    case 'ints':
      return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.value] });
    case 'floats':
      return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.value] });
    case 'strings':
      return onnx.AttributeProto.create({ name, type: T.STRINGS, strings: a.value.map((s) => utf8.encode(s)) });
    case 'graph':
      return onnx.AttributeProto.create({ name, type: T.GRAPH, g: a.value });
    case 'tensor':
      return onnx.AttributeProto.create({ name, type: T.TENSOR, t: a.value });
  }
}

export interface NodeOptions {
  name?: string;
  domain?: string;
  docString?: string;
}

/** One node; `''` in `inputs` marks an omitted optional input, as in the ONNX spec. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Readonly<Record<string, AttributeValue>> = {},
  options: NodeOptions = {},
): onnx.NodeProto {
  const fields: onnx.INodeProto = { input: [...inputs], output: [...outputs], opType };
  if (options.name !== undefined) fields.name = options.name;
  if (options.domain) fields.domain = options.domain;
  if (options.docString) fields.docString = options.docString;
  const names = Object.keys(attributes).sort();
  if (names.length > 0) fields.attribute = names.map((n) => makeAttribute(n, attributes[n]!));
  return onnx.NodeProto.create(fields);
}

/** A typed tensor value: graph input, output or intermediate, with symbolic dimensions kept as names. */
export function makeValueInfo(name: string, dataType: DataType, dims: readonly Dim[] | undefined, docString?: string): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: DATA_TYPE[dataType] };
  if (dims) {
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    };
  }
  const fields: onnx.IValueInfoProto = { name, type: { tensorType } };
  if (docString) fields.docString = docString;
  return onnx.ValueInfoProto.create(fields);
}

export interface GraphParts {
  name: string;
  nodes: readonly onnx.NodeProto[];
  inputs: readonly onnx.ValueInfoProto[];
  outputs: readonly onnx.ValueInfoProto[];
  initializers?: readonly onnx.TensorProto[];
  valueInfo?: readonly onnx.ValueInfoProto[];
  docString?: string;
}

export function makeGraph(g: GraphParts): onnx.GraphProto {
  const fields: onnx.IGraphProto = { name: g.name, node: [...g.nodes], input: [...g.inputs], output: [...g.outputs] };
  if (g.initializers && g.initializers.length > 0) fields.initializer = [...g.initializers];
  if (g.valueInfo && g.valueInfo.length > 0) fields.valueInfo = [...g.valueInfo];
  if (g.docString) fields.docString = g.docString;
  return onnx.GraphProto.create(fields);
}

/** A node's subgraphs: If branches, Loop and Scan bodies. */
export const subgraphsOf = (n: onnx.INodeProto): onnx.IGraphProto[] => (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);

/** Every node of a graph, each followed by the nodes of its subgraphs (If branches, Loop and Scan bodies). */
export function allNodes(g: onnx.IGraphProto): onnx.INodeProto[] {
  return (g.node ?? []).flatMap((node) => [node, ...subgraphsOf(node).flatMap(allNodes)]);
}

/** A graph and all its subgraphs, depth first. */
export function allGraphs(g: onnx.IGraphProto): onnx.IGraphProto[] {
  return [g, ...(g.node ?? []).flatMap(subgraphsOf).flatMap(allGraphs)];
}

/** The names a graph's own nodes read and its outputs name (not its subgraphs'). */
const ownNames = (g: onnx.IGraphProto): string[] => [...(g.node ?? []).flatMap((n) => n.input ?? []), ...(g.output ?? []).map((o) => o.name ?? '')];

/**
 * Moves each of a graph's initializers into the innermost subgraph (If branch, Loop or Scan body) that alone uses
 * it; one used by the graph's own nodes or by two sibling subgraphs stays. onnxruntime hands a subgraph every
 * outer-scope value it reads as a feed on each execution (each step, for a Scan body), and constants held by the
 * subgraph cost nothing per run: measured 1.3–1.7 µs per run at batch 1 for `auto`. Needs IR ≥ 4: IR 3 lists
 * initializers among the graph inputs, which If branches cannot have.
 */
export function localizeInitializers(g: onnx.IGraphProto): void {
  const place = (graph: onnx.IGraphProto, pool: onnx.ITensorProto[]) => {
    const direct = new Set(ownNames(graph));
    const children = (graph.node ?? []).flatMap(subgraphsOf);
    const childUses = children.map((c) => new Set(allGraphs(c).flatMap(ownNames)));
    const stays = (t: onnx.ITensorProto) => direct.has(t.name ?? '') || childUses.filter((u) => u.has(t.name ?? '')).length !== 1;
    graph.initializer = pool.filter(stays);
    children.forEach((c, i) => place(c, [...(c.initializer ?? []), ...pool.filter((t) => !stays(t) && childUses[i]!.has(t.name ?? ''))]));
  };
  place(g, [...(g.initializer ?? [])]);
}

/** onnx's VERSION_TABLE: the IR version that came with each default-domain opset. */
const IR_FOR_OPSET: ReadonlyArray<readonly [opset: number, ir: number]> = [
  [1, 3], [7, 3], [9, 4], [10, 5], [11, 6], [12, 7], [15, 8], [19, 9], [21, 10],
];

/** The opsets the exporters write: GRU's semantics are the same from 7 (its last change) to 21. */
export const MIN_OPSET = 7;
export const MAX_OPSET = 21;

/** Refuses an opset the exporters do not write; `whose` names the semantics ("the seed's", "these"). */
export function assertGruOpset(opset: number, whose: string): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UserError(`opset ${opset} is outside ${MIN_OPSET}–${MAX_OPSET}, the range where ONNX GRU keeps ${whose} semantics`);
  }
}

/** The IR version an opset needs: the one released with it (onnx's table), so older runtimes still load it. */
export function irVersionForOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < 1 || opset > MAX_OPSET) throw new UserError(`opset ${opset} is not supported (1 to ${MAX_OPSET})`);
  let ir = 3;
  for (const [o, v] of IR_FOR_OPSET) if (opset >= o) ir = v;
  return ir;
}

/** The package's version, written as `producer_version`. */
export const PRODUCER_NAME = 'gru-onnx';
export const PRODUCER_VERSION = '0.1.0';

export interface ModelOptions {
  /** Default-domain opset; the IR version follows it. */
  opset: number;
  /** Further opset imports, domain → version. */
  extraOpsets?: Readonly<Record<string, number>>;
  docString?: string;
  /** Written in sorted key order. */
  metadata?: Readonly<Record<string, string>>;
  modelVersion?: number;
}

export function makeModel(graph: onnx.GraphProto, o: ModelOptions): onnx.ModelProto {
  const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: o.opset }];
  for (const domain of Object.keys(o.extraOpsets ?? {}).sort()) opsetImport.push({ domain, version: o.extraOpsets![domain]! });
  const fields: onnx.IModelProto = {
    irVersion: irVersionForOpset(o.opset),
    opsetImport,
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    graph,
  };
  if (o.docString) fields.docString = o.docString;
  if (o.modelVersion !== undefined) fields.modelVersion = o.modelVersion;
  const keys = Object.keys(o.metadata ?? {}).sort();
  if (keys.length > 0) fields.metadataProps = keys.map((key) => ({ key, value: o.metadata![key]! }));
  return onnx.ModelProto.create(fields);
}

export function encodeModel(model: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
