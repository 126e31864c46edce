/**
 * Decodes any `.onnx` file into a typed summary (what `inspect` prints). The JSON form follows
 * `summary.schema.json`, exported here as {@link MODEL_SUMMARY_SCHEMA}.
 */
import { LIMITS, readFileWithin, UserError } from '@gru-onnx/model';
import { toNumber, valueInfoDims } from './checker.ts';
import { allGraphs, allNodes } from './builder.ts';
import { onnx } from './proto.ts';

export interface ValueSummary {
  name: string;
  /** ONNX element type name, e.g. 'FLOAT', 'INT64'; 'UNDEFINED' when not declared. */
  elemType: string;
  /** Fixed sizes as numbers, symbolic dimensions by name, unknown as null; null when no shape is declared. */
  dims: (number | string | null)[] | null;
}

export interface InitializerSummary {
  name: string;
  elemType: string;
  dims: number[];
  /** Number of elements: the product of dims. */
  size: number;
}

export interface ModelSummary {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  opsetImports: { domain: string; version: number }[];
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** Every node, subgraphs (If/Loop/Scan bodies) included. */
  nodeCount: number;
  /** Node count by op type (domain-qualified outside the default domain), subgraphs included, keys sorted. */
  nodeCounts: Record<string, number>;
  /** Every initializer, the main graph's first, then those held by subgraphs (If branches, Loop and Scan bodies). */
  initializers: InitializerSummary[];
  /**
   * Sum of the float initializers' sizes and of the float tensors held in Constant nodes (subgraphs included): the
   * model's trainable parameters plus any float constants. Exporters such as PyTorch's keep weights in either.
   */
  parameterCount: number;
  /** The part of parameterCount held in Constant nodes' `value` tensors, and how many such nodes hold floats. */
  constantParameterCount: number;
  constantNodes: number;
  metadata: Record<string, string>;
}

// Stryker disable next-line StringLiteral: the import attribute is syntax, not a value Stryker can swap
export { default as MODEL_SUMMARY_SCHEMA } from './summary.schema.json' with { type: 'json' };

/** Decodes ONNX bytes; malformed bytes become a one-line UserError. */
export function decodeModel(bytes: Uint8Array, source = 'model'): onnx.ModelProto {
  // safetensors: an 8-byte little-endian header length, then the JSON header.
  if (bytes.length > 9 && bytes[8] === 0x7b && bytes[9] === 0x22 && bytes.subarray(4, 8).every((b) => b === 0)) {
    throw new UserError(`${source} is a safetensors checkpoint, not an ONNX model; pass it as --weights (and to export --weights to make the ONNX model)`);
  }
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UserError(`${source} is not a valid ONNX model: ${why}`);
  }
  if (!model.graph || toNumber(model.irVersion) === 0) throw new UserError(`${source} is not a valid ONNX model: no graph or ir_version`);
  return model;
}

/** Reads and decodes a `.onnx` file. */
export function readModelFile(path: string): onnx.ModelProto {
  return decodeModel(readFileWithin(path, LIMITS.onnxFileBytes, 'ONNX model'), path);
}

const elemTypeName = (t: number | null | undefined): string => onnx.TensorProto.DataType[t ?? 0] ?? `TYPE_${t}`;

function valueSummary(v: onnx.IValueInfoProto): ValueSummary {
  const dims = valueInfoDims(v);
  return { name: v.name ?? '', elemType: elemTypeName(v.type?.tensorType?.elemType), dims: dims ? dims.map((d) => d ?? null) : null };
}

function countNodes(g: onnx.IGraphProto, counts: Map<string, number>): number {
  const nodes = allNodes(g);
  for (const node of nodes) {
    const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType ?? ''}` : (node.opType ?? '');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return nodes.length;
}

/** The typed summary of a model, given as bytes or as a decoded message. */
export function summarizeModel(input: Uint8Array | onnx.IModelProto): ModelSummary {
  const model = input instanceof Uint8Array ? decodeModel(input) : input;
  const g = model.graph ?? {};
  const counts = new Map<string, number>();
  const nodeCount = countNodes(g, counts);
  const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const initializers: InitializerSummary[] = allGraphs(g).flatMap((sg) => sg.initializer ?? []).map((t) => {
    const dims = (t.dims ?? []).map(toNumber);
    return { name: t.name ?? '', elemType: elemTypeName(t.dataType), dims, size: dims.reduce((a, d) => a * d, 1) };
  });
  const isFloat = (e: string) => e === 'FLOAT' || e === 'DOUBLE' || e === 'FLOAT16' || e === 'BFLOAT16';
  // Sizes of the float tensors in Constant nodes (attribute `value`), one entry per such node.
  const constants = allNodes(g)
    .filter((n) => n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx'))
    .map((n) => n.attribute?.find((a) => a.name === 'value')?.t)
    .filter((t): t is onnx.ITensorProto => !!t && isFloat(elemTypeName(t.dataType)))
    .map((t) => (t.dims ?? []).map(toNumber).reduce((a, d) => a * d, 1));
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    irVersion: toNumber(model.irVersion),
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    docString: model.docString ?? '',
    opsetImports: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) })),
    inputs: (g.input ?? []).filter((v) => !initNames.has(v.name ?? '')).map(valueSummary),
    outputs: (g.output ?? []).map(valueSummary),
    nodeCount,
    nodeCounts: Object.fromEntries([...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    initializers,
    parameterCount: initializers.filter((t) => isFloat(t.elemType)).reduce((a, t) => a + t.size, 0) + constants.reduce((a, n) => a + n, 0),
    constantParameterCount: constants.reduce((a, n) => a + n, 0),
    constantNodes: constants.length,
    metadata,
  };
}
