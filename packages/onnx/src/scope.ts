/**
 * What every exporter here writes graphs with: a Scope collects one graph's nodes (a subgraph gets its own
 * scope), and the two pieces both the seed export and the imports need around onnxruntime's GRU kernel.
 */
import type { AttributeValue, DataType, Dim, GraphParts } from './builder.ts';
import { attr, dataTypeOf, localizeInitializers, makeGraph, makeNode, makeTensor, makeValueInfo } from './builder.ts';
import type { onnx } from './proto.ts';

/** Collects nodes and constants for one graph scope, naming each node after its output. */
export class Scope {
  readonly nodes: onnx.NodeProto[] = [];

  /** Constants of every scope are collected in the main graph's list; localizeInitializers then moves each into the subgraph that uses it. */
  constructor(
    readonly prefix: string,
    readonly initializers: onnx.TensorProto[] = [],
  ) {}

  /** A scope for a subgraph of this one, sharing its list of constants. */
  child(prefix: string): Scope {
    return new Scope(prefix, this.initializers);
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Record<string, AttributeValue> = {}): string {
    const named = outputs.find((o) => o !== '') ?? '';
    this.nodes.push(makeNode(opType, inputs, outputs, attributes, { name: `${this.prefix}${opType}_${named}` }));
    return outputs[0]!;
  }

  float(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.constant(name, 'float32', dims, values);
  }

  int64(name: string, dims: number[], values: number[]): string {
    return this.constant(name, 'int64', dims, values);
  }

  bool(name: string, dims: number[], values: number[]): string {
    return this.constant(name, 'bool', dims, values);
  }

  private constant(name: string, type: DataType, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push(makeTensor(name, type, dims, values));
    return name;
  }
}

/**
 * Zeros [batch, width] for x's dynamic batch: Tile works at every opset from 7 (ConstantOfShape needs 9). `tag`
 * tells apart the names of several in one scope.
 */
export function zerosState(s: Scope, width: number, tag = ''): string {
  const p = `${s.prefix}${tag}`;
  const shape = s.node('Shape', ['x'], [`${p}x_shape`]);
  const batch = s.node('Gather', [shape, s.int64(`${p}index_0`, [1], [0])], [`${p}batch_1d`], { axis: attr.int(0) });
  const repeats = s.node('Concat', [batch, s.int64(`${p}one_1d`, [1], [1])], [`${p}zeros_repeats`], { axis: attr.int(0) });
  return s.node('Tile', [s.float(`${p}zeros_1_${width}`, [1, width], new Float32Array(width)), repeats], [`${p}h0_zeros`]);
}

/** out = value < bound for an int64 value; Less-7 takes floating types only, so before opset 9 as float. */
export function lessThan(s: Scope, opset: number, value: string, boundName: string, dims: number[], bound: number, out: string): string {
  if (opset >= 9) return s.node('Less', [value, s.int64(boundName, dims, [bound])], [out]);
  const asFloat = s.node('Cast', [value], [`${value}_float`], { to: attr.int(1) });
  return s.node('Less', [asFloat, s.float(boundName, dims, [bound])], [out]);
}

/** One float32 output of {@link ifEmptyX}: its name in the enclosing scope and its dimensions. */
export interface GuardedOutput {
  name: string;
  dims: Dim[];
}

/**
 * If(Size(x) = 0): `empty` writes what an empty x (seq 0 or batch 0) gives, `steps` the recurrence, each into
 * its own branch scope and returning its values in the order of `outputs`. onnxruntime 1.29's GRU kernel aborts
 * the whole process at seq 0 and at batch 0, its LSTM kernel at batch 0 (its RNN kernel survives both; checked
 * in a child process), and its Scan cannot slice an empty axis, so no recurrence may see an empty x. Size is one kernel at every opset and is 0 exactly when seq or batch is (input > 0).
 */
export function ifEmptyX(
  s: Scope,
  outputs: readonly GuardedOutput[],
  what: string,
  empty: (e: Scope) => string[],
  steps: (st: Scope) => string[],
): void {
  const size = s.node('Size', ['x'], [`${s.prefix}x_size`]);
  const isEmpty = s.node('Equal', [size, s.int64(`${s.prefix}zero_scalar`, [], [0])], [`${s.prefix}x_is_empty`]);
  const branch = (name: string, write: (sc: Scope) => string[], doc: string) => {
    const sc = s.child(`${s.prefix}${name}_`);
    const names = write(sc);
    const outs = names.map((n, i) => makeValueInfo(n, 'float32', outputs[i]!.dims));
    return attr.graph(makeGraph({ name: `${s.prefix}${name}`, nodes: sc.nodes, inputs: [], outputs: outs, docString: doc }));
  };
  s.node('If', [isEmpty], outputs.map((o) => o.name), {
    else_branch: branch('steps', steps, `Non-empty x: ${what}.`),
    then_branch: branch('empty', empty, 'Empty x (seq or batch 0).'),
  });
}

/**
 * The main graph of scope `s` (every constant of its subgraphs included). IR 3 (opsets 7–8) requires every
 * initializer to be listed as a graph input too; from opset 9 each constant moves into the one subgraph that
 * uses it (localizeInitializers).
 */
export function mainGraph(s: Scope, opset: number, parts: Omit<GraphParts, 'nodes' | 'initializers'>): onnx.GraphProto {
  const inputs = [...parts.inputs];
  if (opset < 9) for (const t of s.initializers) inputs.push(makeValueInfo(t.name, dataTypeOf(t), t.dims.map(Number)));
  const graph = makeGraph({ ...parts, inputs, nodes: s.nodes, initializers: s.initializers });
  if (opset >= 9) localizeInitializers(graph);
  return graph;
}
