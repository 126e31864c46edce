/**
 * Graph surgery for localizing a divergence (issue 16): expose intermediate values as outputs, inline the If branch
 * taken, expose Loop/Scan body values per iteration, cut one node out into its own model, and plant a fault after
 * a named node (tests). Pure functions over decoded models; the input model is never changed.
 */
import { UserError } from '@gru-onnx/model';
import { onnx } from './proto.ts';
import { subgraphsOf } from './builder.ts';

/** A value the instrumented model exposes: which node made it, and where that node sits. */
export interface ExposedValue {
  /** The graph output name carrying it in the instrumented model. */
  output: string;
  /** The value's own name in its graph. */
  value: string;
  node: onnx.INodeProto;
  /** Index of the node in topological (graph) order within its graph. */
  order: number;
}

const clone = (m: onnx.IModelProto): onnx.ModelProto => onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
export const decodeModelBytes = (bytes: Uint8Array): onnx.ModelProto => onnx.ModelProto.decode(bytes);
export const encodeModelBytes = (m: onnx.IModelProto): Uint8Array => onnx.ModelProto.encode(m).finish();

/** An untyped output: onnxruntime infers its type, so no shape inference is needed here. */
const untyped = (name: string): onnx.IValueInfoProto => ({ name });

/**
 * Every node output of the main graph as a graph output (those that are outputs already keep their place), so one
 * run shows them all: the fewest runs the runtime allows. `only`: just the values it accepts.
 */
export function exposeMainGraph(model: onnx.IModelProto, only?: (value: string) => boolean): { model: onnx.ModelProto; exposed: ExposedValue[] } {
  const m = clone(model);
  const g = m.graph!;
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  const exposed: ExposedValue[] = [];
  (g.node ?? []).forEach((node, order) => {
    for (const value of node.output ?? []) {
      if (!value || (only && !only(value))) continue;
      if (!outputs.has(value)) {
        g.output!.push(untyped(value));
        outputs.add(value);
      }
      exposed.push({ output: value, value, node, order });
    }
  });
  return { model: m, exposed };
}

/**
 * The main graph with If node `name` replaced by the nodes of the branch taken (`then_branch` when `cond`), the
 * branch's outputs renamed through Identity nodes to the If's outputs. Branch nodes read outer values directly.
 */
export function inlineIf(model: onnx.IModelProto, name: string, cond: boolean): onnx.ModelProto {
  const m = clone(model);
  const g = m.graph!;
  const at = (g.node ?? []).findIndex((n) => n.name === name && n.opType === 'If');
  if (at < 0) throw new UserError(`no If node named ${name} in the main graph`);
  const node = g.node![at]!;
  const branch = node.attribute?.find((a) => a.name === (cond ? 'then_branch' : 'else_branch'))?.g;
  if (!branch) throw new UserError(`If ${name} has no ${cond ? 'then' : 'else'}_branch`);
  const ids = (branch.output ?? []).map((o, i) => onnx.NodeProto.create({ opType: 'Identity', name: `${name}/out${i}`, input: [o.name ?? ''], output: [node.output![i]!] }));
  g.node!.splice(at, 1, ...(branch.node ?? []).map((n) => onnx.NodeProto.create(n)), ...ids);
  g.initializer = [...(g.initializer ?? []), ...(branch.initializer ?? [])];
  return m;
}

/** Loop body inputs are (iteration, cond, carried…); Scan body inputs are (state…, scan slices…). */
const BODY_OPS = ['Loop', 'Scan'];

/**
 * Loop or Scan node `name` of the main graph with every body input and node output added as a scan output, so
 * one run gives each body value at every iteration (leading axis = iteration). Body inputs go through Identity
 * nodes, since a graph input cannot also be a graph output.
 */
export function exposeBody(model: onnx.IModelProto, name: string): { model: onnx.ModelProto; exposed: ExposedValue[]; inputs: { value: string; output: string }[] } {
  const m = clone(model);
  const g = m.graph!;
  const node = (g.node ?? []).find((n) => n.name === name && BODY_OPS.includes(n.opType ?? ''));
  if (!node) throw new UserError(`no Loop or Scan node named ${name} in the main graph`);
  const body = node.attribute!.find((a) => a.name === 'body')!.g!;
  const outerOutputs = new Set((g.node ?? []).flatMap((n) => n.output ?? []));
  const fresh = (v: string): string => {
    let s = `${name}/iter/${v}`;
    while (outerOutputs.has(s)) s += '_';
    outerOutputs.add(s);
    return s;
  };
  const exposed: ExposedValue[] = [];
  const inputs: { value: string; output: string }[] = [];
  const addScanOutput = (value: string): string => {
    body.output!.push(untyped(value));
    const out = fresh(value);
    node.output!.push(out);
    g.output!.push(untyped(out));
    return out;
  };
  const bodyNodes = [...(body.node ?? [])];
  const already = new Set((body.output ?? []).map((o) => o.name));
  for (const input of body.input ?? []) {
    const id = `${input.name}/exposed`;
    body.node!.push(onnx.NodeProto.create({ opType: 'Identity', name: id, input: [input.name ?? ''], output: [id] }));
    inputs.push({ value: input.name ?? '', output: addScanOutput(id) });
  }
  bodyNodes.forEach((n, order) => {
    for (const value of n.output ?? []) {
      if (!value) continue;
      // A body output already (a carried value or scan output) is exposed all the same, through an Identity.
      let source = value;
      if (already.has(value)) {
        source = `${value}/exposed`;
        body.node!.push(onnx.NodeProto.create({ opType: 'Identity', name: source, input: [value], output: [source] }));
      }
      exposed.push({ output: addScanOutput(source), value, node: n, order });
    }
  });
  if (node.opType === 'Scan') {
    // Scan lists per-output axes and directions when given: new outputs take the defaults (axis 0, forward).
    for (const a of node.attribute ?? []) {
      if (a.name === 'scan_output_axes' || a.name === 'scan_output_directions') {
        while ((a.ints ?? []).length < node.output!.length - countStates(node)) a.ints!.push(0);
      }
    }
  }
  return { model: m, exposed, inputs };
}

const countStates = (scan: onnx.INodeProto): number => {
  const n = Number(scan.attribute?.find((a) => a.name === 'num_scan_inputs')?.i ?? 0);
  return (scan.input ?? []).length - n;
};

/** A tensor value for a one-node model: its ONNX element type and shape. */
export interface ValueType {
  elemType: number;
  dims: readonly number[];
}

const typed = (name: string, t: ValueType): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: t.elemType, shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } },
});

/**
 * A model of `node` alone (its subgraphs kept): `feeds` become graph inputs, `constants` initializers (encoded
 * TensorProtos, named as the node's inputs), `outputs` typed graph outputs. The opset imports are the source's.
 */
export function singleNodeModel(
  source: onnx.IModelProto,
  node: onnx.INodeProto,
  feeds: Record<string, ValueType>,
  constants: onnx.ITensorProto[],
  outputs: Record<string, ValueType>,
): onnx.ModelProto {
  const graph: onnx.IGraphProto = {
    name: `repro_${node.opType}`,
    node: [onnx.NodeProto.create(node)],
    input: Object.entries(feeds).map(([n, t]) => typed(n, t)),
    output: Object.entries(outputs).map(([n, t]) => typed(n, t)),
    initializer: constants,
  };
  return onnx.ModelProto.create({
    irVersion: source.irVersion ?? 8,
    opsetImport: source.opsetImport ?? [],
    producerName: 'gru-onnx',
    producerVersion: '0.1.0',
    docString: `node ${node.name ?? ''} (${node.opType}) cut out by gru-onnx verify --localize`,
    graph,
  });
}

/** The graph holding node `name`, searched depth first through subgraphs. */
function graphOfNode(g: onnx.IGraphProto, name: string): onnx.IGraphProto | undefined {
  if ((g.node ?? []).some((n) => n.name === name)) return g;
  for (const sub of (g.node ?? []).flatMap(subgraphsOf)) {
    const found = graphOfNode(sub, name);
    if (found) return found;
  }
  return undefined;
}

/**
 * A planted fault for tests: node `name` (anywhere, subgraphs included) has `delta` added to its first output,
 * through an Add placed right after it (a float32 node output).
 */
export function perturbNode(model: onnx.IModelProto, name: string, delta: number): onnx.ModelProto {
  const m = clone(model);
  const g = graphOfNode(m.graph!, name);
  if (!g) throw new UserError(`no node named ${name}`);
  const at = g.node!.findIndex((n) => n.name === name);
  const node = g.node![at]!;
  const out = node.output![0]!;
  const raw = `${out}/unperturbed`;
  node.output![0] = raw;
  const c = `${out}/delta`;
  const data = new Uint8Array(4);
  new DataView(data.buffer).setFloat32(0, delta, true);
  const constant = onnx.NodeProto.create({
    opType: 'Constant',
    name: c,
    output: [c],
    attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dataType: onnx.TensorProto.DataType.FLOAT, dims: [], rawData: data } }],
  });
  const add = onnx.NodeProto.create({ opType: 'Add', name: `${name}/perturb`, input: [raw, c], output: [out] });
  g.node!.splice(at + 1, 0, constant, add);
  return m;
}
