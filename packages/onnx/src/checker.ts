/**
 * A structural checker for ONNX models, separate from building (as onnx's `checker.py` is). It does not infer
 * shapes; it checks what a file states: unique names, definition before use across subgraph scopes, initializer
 * sizes, declared types, opset imports, each ai.onnx op against its schema at the imported opset (it exists, its
 * attributes are known, typed as declared and present when required), and the GRU node's attributes against its
 * weight shapes.
 */
import { UserError } from '@gru-onnx/model';
import { allNodes } from './builder.ts';
import { OP_SCHEMAS, OP_TABLE_OPSET } from './generated/op-schemas.ts';
import { onnx } from './proto.ts';

/** One problem; `message` names the graph element and what is wrong, and reads on its own. */
export interface CheckIssue {
  /** Where: `graph 'main'`, `node 'gru' (GRU) in graph 'main'`. */
  where: string;
  /** The whole one-line finding, starting with `where`. */
  message: string;
}

type Long = { toNumber(): number };
export const toNumber = (v: number | Long | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

const DT = onnx.TensorProto.DataType;
/** Bytes per element in raw_data. */
const ELEMENT_BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 4, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.UINT16]: 2, [DT.INT16]: 2, [DT.INT32]: 4, [DT.INT64]: 8,
  [DT.BOOL]: 1, [DT.FLOAT16]: 2, [DT.DOUBLE]: 8, [DT.UINT32]: 4, [DT.UINT64]: 8, [DT.BFLOAT16]: 2,
};

/** How many values a tensor's data holds, or undefined when stored externally or of a type not counted here. */
export function tensorValueCount(t: onnx.ITensorProto): number | undefined {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const dt = t.dataType ?? 0;
  if (t.rawData && t.rawData.length > 0) {
    const w = ELEMENT_BYTES[dt];
    return w === undefined ? undefined : t.rawData.length / w;
  }
  switch (dt) {
    case DT.FLOAT:
      return t.floatData?.length ?? 0;
    case DT.DOUBLE:
      return t.doubleData?.length ?? 0;
    case DT.INT64:
      return t.int64Data?.length ?? 0;
    case DT.UINT32:
    case DT.UINT64:
      return t.uint64Data?.length ?? 0;
    case DT.STRING:
      return t.stringData?.length ?? 0;
    case DT.COMPLEX64:
    case DT.COMPLEX128:
    case DT.UNDEFINED:
      return undefined;
    default:
      return t.int32Data?.length ?? 0;
  }
}

export type ShapeDims = (number | string | undefined)[];

/** Dims of a value info's tensor type: numbers, symbolic names, or undefined for unknown. */
export function valueInfoDims(v: onnx.IValueInfoProto): ShapeDims | undefined {
  const shape = v.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : undefined));
}

const fmt = (dims: ShapeDims) => `[${dims.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]`;

function nodeLabel(n: onnx.INodeProto, index: number): string {
  return n.name ? `node '${n.name}' (${n.opType})` : `node #${index} (${n.opType})`;
}

const utf8 = new TextDecoder();

interface Context {
  issues: CheckIssue[];
  opsets: Map<string, number>;
  /** Every value name defined anywhere so far (SSA across scopes). */
  produced: Set<string>;
  nodeNames: Set<string>;
}

/** Checks a model; returns every issue found, in graph order. An empty list means the model passed. */
export function checkModel(model: onnx.IModelProto): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const opsets = new Map<string, number>();
  for (const o of model.opsetImport ?? []) {
    const domain = o.domain === 'ai.onnx' ? '' : (o.domain ?? '');
    if (opsets.has(domain)) issues.push({ where: 'model', message: `opset import for domain '${domain}' appears twice` });
    opsets.set(domain, toNumber(o.version));
  }
  // Needed only where a node uses the default domain: ONNX's training-op models import ai.onnx.preview.training alone.
  const usesDefault = model.graph ? allNodes(model.graph).some((n) => !n.domain || n.domain === 'ai.onnx') : true;
  if (!opsets.has('') && usesDefault) issues.push({ where: 'model', message: "no opset import for the default ONNX domain ''" });
  if (toNumber(model.irVersion) < 3) issues.push({ where: 'model', message: `ir_version ${toNumber(model.irVersion)} is missing or below 3` });
  if (!model.graph) {
    issues.push({ where: 'model', message: 'model has no graph' });
    return issues;
  }
  const ctx: Context = { issues, opsets, produced: new Set(), nodeNames: new Set() };
  checkGraph(ctx, model.graph, new Map(), true);
  return issues;
}

/**
 * `outer` maps each name visible from enclosing scopes to its shape (when known). Top-level graph inputs and
 * outputs must be typed; subgraph inputs may leave the type to the enclosing op.
 */
function checkGraph(ctx: Context, g: onnx.IGraphProto, outer: Map<string, ShapeDims | undefined>, topLevel: boolean): void {
  const gname = `graph '${g.name ?? ''}'`;
  const issue = (where: string, message: string) => ctx.issues.push({ where, message: `${where}: ${message}` });
  const scope = new Map(outer);
  const local = new Set<string>();
  const define = (name: string, dims: ShapeDims | undefined, what: string) => {
    if (!name) return;
    if (ctx.produced.has(name)) issue(gname, `${what} '${name}' reuses a name already defined`);
    ctx.produced.add(name);
    scope.set(name, dims);
    local.add(name);
  };
  const declared = new Map<string, ShapeDims | undefined>();
  for (const v of g.valueInfo ?? []) if (v.name) declared.set(v.name, valueInfoDims(v));

  const initNames = new Set<string>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (!name) issue(gname, 'an initializer has no name');
    if (initNames.has(name)) issue(gname, `initializer '${name}' appears twice`);
    initNames.add(name);
    const dims = (t.dims ?? []).map(toNumber);
    const expected = dims.reduce((a, d) => a * d, 1);
    const have = tensorValueCount(t);
    if (have !== undefined && have !== expected) {
      issue(`initializer '${name}' in ${gname}`, `dims ${fmt(dims)} need ${expected} values but its data holds ${have}`);
    }
  }
  for (const v of g.input ?? []) {
    const name = v.name ?? '';
    if (!name) issue(gname, 'a graph input has no name');
    const elemType = v.type?.tensorType?.elemType ?? 0;
    if (topLevel && !v.type) issue(`input '${name}' of ${gname}`, 'has no declared type');
    else if (v.type?.tensorType && elemType === 0) issue(`input '${name}' of ${gname}`, 'has no element type');
    // IR < 4 lists initializers among inputs too: one value, defined once.
    const init = (g.initializer ?? []).find((t) => t.name === name);
    define(name, init ? (init.dims ?? []).map(toNumber) : valueInfoDims(v), 'input');
  }
  const inputNames = new Set((g.input ?? []).map((v) => v.name ?? ''));
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (!inputNames.has(name)) define(name, (t.dims ?? []).map(toNumber), 'initializer');
  }

  (g.node ?? []).forEach((n, i) => {
    const label = `${nodeLabel(n, i)} in ${gname}`;
    if (!n.opType) issue(label, 'has no op_type');
    if (n.name) {
      if (ctx.nodeNames.has(n.name)) issue(label, `node name '${n.name}' is used by another node`);
      ctx.nodeNames.add(n.name);
    }
    const domain = n.domain === 'ai.onnx' ? '' : (n.domain ?? '');
    if (!ctx.opsets.has(domain)) issue(label, `domain '${domain}' has no opset import`);
    else if (domain === '' && n.opType) checkOpSchema(n, ctx.opsets.get('')!, (m) => issue(label, m));
    for (const inp of n.input ?? []) {
      if (inp && !scope.has(inp)) issue(label, `input '${inp}' is not defined before this node (graph input, initializer or an earlier node's output)`);
    }
    for (const a of n.attribute ?? []) {
      const subgraphs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
      for (const sg of subgraphs) checkGraph(ctx, sg, scope, false);
    }
    if (n.opType === 'GRU' && domain === '') checkGru(ctx, n, label, (name) => (scope.has(name) ? scope.get(name) ?? declared.get(name) : undefined));
    for (const out of n.output ?? []) define(out, declared.get(out), `output of ${nodeLabel(n, i)}`);
  });

  for (const v of g.output ?? []) {
    const name = v.name ?? '';
    if (topLevel && !v.type?.tensorType?.elemType && !v.type?.sequenceType && !v.type?.mapType && !v.type?.optionalType && !v.type?.sparseTensorType) issue(`output '${name}' of ${gname}`, 'has no declared type');
    if (!scope.has(name)) issue(`output '${name}' of ${gname}`, 'is not produced by any node, input or initializer');
    // Valid ONNX, but onnxruntime refuses a subgraph that returns an enclosing graph's value as it is.
    else if (!topLevel && !local.has(name)) issue(`output '${name}' of ${gname}`, "is the enclosing graph's value returned as it is, which onnxruntime refuses (an Identity node in between fixes it)");
  }
}

/**
 * An ai.onnx op against onnx's own schemas (generated/op-schemas.ts), as onnxruntime verifies it when it loads a
 * model: the op must exist at the imported opset, and each attribute must be one the op's version there has, of
 * its type, and present when required. Such models used to reach onnxruntime and come back as a backend error.
 * Past the table's opset a name may be an op added since, and a version may have new attributes: there only an
 * op that came later than the imported opset is refused.
 */
function checkOpSchema(n: onnx.INodeProto, opset: number, bad: (message: string) => void): void {
  const opType = n.opType ?? '';
  const versions = Object.hasOwn(OP_SCHEMAS, opType) ? OP_SCHEMAS[opType]! : undefined;
  if (versions === undefined) {
    if (opset <= OP_TABLE_OPSET) bad(`'${opType}' is not an ai.onnx operator at opset ${opset}`);
    return;
  }
  const since = versions[0]![0];
  if (since > opset) return bad(`'${opType}' needs ai.onnx opset ${since} or later; the model imports opset ${opset}`);
  if (opset > OP_TABLE_OPSET) return;
  let attributes = versions[0]![1];
  for (const [from, a] of versions) if (from <= opset) attributes = a;
  const known = Object.keys(attributes);
  for (const a of n.attribute ?? []) {
    const name = a.name ?? '';
    const spec = Object.hasOwn(attributes, name) ? attributes[name] : undefined;
    if (!spec) bad(`'${opType}' at opset ${opset} has no attribute '${name}' (${known.length ? `it has ${known.join(', ')}` : 'it has none'})`);
    // An unset type (0) is left alone: old writers omitted it, and the value fields still say what it is.
    else if (a.type && a.type !== spec[0]) bad(`attribute '${name}' is ${attributeTypeName(a.type)}, but '${opType}' takes ${attributeTypeName(spec[0])}`);
  }
  for (const name of known) {
    if (attributes[name]![1] && !attrOf(n, name)) bad(`'${opType}' needs attribute '${name}'`);
  }
}

function attributeTypeName(type: number): string {
  return onnx.AttributeProto.AttributeType[type] ?? `type ${type}`;
}

function attrOf(n: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

/**
 * ONNX GRU: W [dirs, 3H, I], R [dirs, 3H, H], B [dirs, 6H], initial_h [dirs, batch, H]; direction fixes dirs;
 * two activations (f, g) per direction.
 */
function checkGru(ctx: Context, n: onnx.INodeProto, label: string, shapeOf: (name: string) => ShapeDims | undefined): void {
  const bad = (message: string) => ctx.issues.push({ where: label, message: `${label}: ${message}` });
  const hsAttr = attrOf(n, 'hidden_size');
  const H = hsAttr ? toNumber(hsAttr.i) : undefined;
  if (H === undefined) bad('has no hidden_size attribute');
  else if (!(H > 0)) bad(`hidden_size ${H} must be positive`);
  const dirAttr = attrOf(n, 'direction');
  const direction = dirAttr?.s ? utf8.decode(dirAttr.s) : 'forward';
  let dirs: number | undefined;
  if (direction === 'forward' || direction === 'reverse') dirs = 1;
  else if (direction === 'bidirectional') dirs = 2;
  else bad(`direction '${direction}' is not forward, reverse or bidirectional`);
  const lbr = attrOf(n, 'linear_before_reset');
  if (lbr && toNumber(lbr.i) !== 0 && toNumber(lbr.i) !== 1) bad(`linear_before_reset ${toNumber(lbr.i)} is not 0 or 1`);
  const layoutAttr = attrOf(n, 'layout');
  const layout = layoutAttr ? toNumber(layoutAttr.i) : 0;
  if (layout !== 0 && layout !== 1) bad(`layout ${layout} is not 0 or 1`);
  if (layoutAttr && (ctx.opsets.get('') ?? 0) < 14) bad('layout attribute needs opset 14 or later');
  const acts = attrOf(n, 'activations');
  if (acts && dirs !== undefined && (acts.strings ?? []).length !== 2 * dirs) {
    bad(`activations lists ${(acts.strings ?? []).length} functions, expected ${2 * dirs} (2 per direction, ${direction})`);
  }
  const inputs = n.input ?? [];
  if (inputs.length < 3 || !inputs[0] || !inputs[1] || !inputs[2]) {
    bad('needs inputs X, W and R');
    return;
  }
  const W = shapeOf(inputs[1]!);
  const R = shapeOf(inputs[2]!);
  const B = inputs[3] ? shapeOf(inputs[3]) : undefined;
  const X = shapeOf(inputs[0]!);
  const h0 = inputs[5] ? shapeOf(inputs[5]) : undefined;
  const expectDims = (what: string, got: ShapeDims | undefined, want: (number | undefined)[]) => {
    if (!got) return;
    const ok = got.length === want.length && want.every((w, i) => w === undefined || typeof got[i] !== 'number' || got[i] === w);
    if (!ok) bad(`${what} has shape ${fmt(got)}, expected ${fmt(want)} for ${direction} hidden_size ${H ?? '?'}`);
  };
  const I = W && typeof W[2] === 'number' ? W[2] : undefined;
  const threeH = H !== undefined ? 3 * H : undefined;
  expectDims(`W '${inputs[1]}'`, W, [dirs, threeH, I]);
  expectDims(`R '${inputs[2]}'`, R, [dirs, threeH, H]);
  if (B) expectDims(`B '${inputs[3]}'`, B, [dirs, H !== undefined ? 6 * H : undefined]);
  if (X) {
    const inputAxis = 2;
    if (X.length !== 3) bad(`X '${inputs[0]}' has rank ${X.length}, expected 3`);
    else if (I !== undefined && typeof X[inputAxis] === 'number' && X[inputAxis] !== I) {
      bad(`X '${inputs[0]}' has input size ${X[inputAxis]} but W '${inputs[1]}' expects ${I}`);
    }
  }
  if (h0) expectDims(`initial_h '${inputs[5]}'`, h0, layout === 0 ? [dirs, undefined, H] : [undefined, dirs, H]);
}

/** Throws a one-line UserError naming the first issue (and how many more) when the model has any. */
export function assertValidModel(model: onnx.IModelProto): void {
  const issues = checkModel(model);
  if (issues.length === 0) return;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new UserError(`invalid ONNX model: ${issues[0]!.message}${more}`);
}
