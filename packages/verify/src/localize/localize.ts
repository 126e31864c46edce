/**
 * `verify --localize` (issue 16): the first node whose output leaves tolerance against the baseline on the same
 * inputs, found on instrumented copies of the model that expose every intermediate value at once (one run per
 * backend per level: the main graph, then each taken If branch inlined or Loop/Scan body exposed per iteration),
 * then cut out into a one-node model with the baseline's actual values and re-run on both backends.
 */
import { join } from 'node:path';
import { decodeModelBytes, encodeModelBytes, exposeBody, exposeMainGraph, inlineIf, onnx, singleNodeModel } from '@gru-onnx/onnx';
import type { ExposedValue, ValueType } from '@gru-onnx/onnx';
import { compareOutput } from '../compare.ts';
import { saveBundle } from '../bundle.ts';
import { encodeTensorProto } from '../inputs/tensor-proto.ts';
import type { Feeds, NamedTensor, Runner } from '../runner.ts';
import { dtypeOf, elementCount, onnxTypeOf } from '../tensor.ts';
import type { Tensor } from '../tensor.ts';
import { toleranceFor } from '../tolerances.ts';
import type { BackendTolerance } from '../tolerances.ts';

/** What the report says about one failing backend's divergence. */
export interface LocalizationReport {
  /** `node`: a node leaves tolerance alone; `accumulation`: none does, the outputs do; `masked`: the instrumented run matched. */
  result: 'node' | 'accumulation' | 'masked' | 'error';
  message: string;
  baseline: string;
  case: string;
  /** For a stateful run: the step localized (the first out of tolerance), fed the baseline's carried values. */
  step?: number;
  node?: LocalizedNode;
  /** Runs of instrumented models, per backend (the baseline runs as many). */
  instrumentedRuns: number;
  repro?: ReproReport;
}

export interface LocalizedNode {
  name: string;
  opType: string;
  domain: string;
  attributes: Record<string, string>;
  inputs: { name: string; dtype: string; dims: number[]; constant: boolean }[];
  /** `main graph`, `If 'cond1' then_branch`, `Loop 'loop' body`… */
  where: string;
  /** Inside a Loop/Scan body: the iteration (0-based) where it first leaves tolerance. */
  iteration?: number;
  outputs: { name: string; dtype: string; dims: number[]; maxAbs: number; maxRel: number; status: 'pass' | 'fail' }[];
  /** Which execution provider ran it on the failing backend (from placements), when the runtime said. */
  executionProvider?: string;
}

export interface ReproReport {
  /** Where repro-<backend>/ was written (only with a report directory). */
  dir?: string;
  verdict: 'reproduces alone' | 'does not reproduce alone';
  /** What was run: the one-node model on both backends, with the baseline's input values. */
  tried: string;
  maxAbs: number;
}

export interface LocalizeOptions {
  model: Uint8Array;
  feeds: Feeds;
  caseId: string;
  step?: number;
  baseline: Runner;
  target: Runner;
  tolerance: BackendTolerance;
  /** Where repro-<backend>/ goes; without it the repro is still re-run, not written. */
  reportDir?: string;
  run: (runner: Runner, model: Uint8Array, feeds: Feeds, outputNames: string[]) => Promise<{ outputs: Record<string, NamedTensor>; placements: { node: string; ep: string }[] }>;
}

const T = onnx.AttributeProto.AttributeType;

function attributeText(a: onnx.IAttributeProto): string {
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  switch (a.type) {
    case T.INT: return String(a.i);
    case T.FLOAT: return String(a.f);
    case T.STRING: return JSON.stringify(dec(a.s ?? new Uint8Array()));
    case T.INTS: return `[${(a.ints ?? []).join(', ')}]`;
    case T.FLOATS: return `[${(a.floats ?? []).join(', ')}]`;
    case T.STRINGS: return `[${(a.strings ?? []).map((s) => JSON.stringify(dec(s))).join(', ')}]`;
    case T.TENSOR: return `tensor [${(a.t?.dims ?? []).join(', ')}]`;
    case T.GRAPH: return `graph '${a.g?.name ?? ''}' (${a.g?.node?.length ?? 0} nodes)`;
    default: return `type ${a.type}`;
  }
}

/** Slice `i` of a tensor's leading axis (a scan output's iteration). */
function sliceAt(t: Tensor, i: number): Tensor {
  const inner = t.dims.slice(1);
  const n = elementCount(inner);
  const data = (t.data as { slice(a: number, b: number): Tensor['data'] }).slice(i * n, (i + 1) * n);
  return { dims: inner, data, ...(t.dtype ? { dtype: t.dtype } : {}) };
}

const typeOf = (t: Tensor): ValueType => ({ elemType: onnxTypeOf(dtypeOf(t)), dims: t.dims });

interface Compared {
  status: 'pass' | 'fail';
  maxAbs: number;
  maxRel: number;
}

function compareValue(name: string, actual: Tensor | undefined, expected: Tensor | undefined, tol: BackendTolerance): Compared | undefined {
  if (!expected) return undefined;
  const c = compareOutput(name, actual, expected, toleranceFor(tol, actual ? dtypeOf(actual) : dtypeOf(expected)));
  return { status: c.status, maxAbs: c.maxAbs, maxRel: c.maxRel };
}

interface Found {
  node: onnx.INodeProto;
  where: string;
  iteration?: number;
  outputs: LocalizedNode['outputs'];
  /** Values the node read and wrote, as the baseline computed them. */
  values: (name: string) => Tensor | undefined;
  constants: Map<string, onnx.ITensorProto>;
  /** Values made by Constant nodes of the node's graph: initializers in the repro too. */
  constantOutputs: Set<string>;
  executionProvider?: string;
}

const constantOutputsOf = (g: onnx.IGraphProto | null | undefined): Set<string> => new Set((g?.node ?? []).filter((n) => n.opType === 'Constant').flatMap((n) => n.output ?? []));

export async function localize(o: LocalizeOptions): Promise<LocalizationReport> {
  let runs = 0;
  const where = new Map<string, string>();
  let current = decodeModelBytes(o.model);
  const originalOutputs = (current.graph?.output ?? []).map((v) => v.name ?? '');
  const base: LocalizationReport = { result: 'error', message: '', baseline: o.baseline.name, case: o.caseId, ...(o.step !== undefined ? { step: o.step } : {}), instrumentedRuns: 0 };
  let found: Found | undefined;
  let bodyNote: string | undefined;
  /** Values whose exposure alone hid the fault (the one-at-a-time search). */
  const hiding: string[] = [];
  let oneAtATime = false;
  for (let depth = 0; depth < 32 && !found; depth++) {
    const exposedRun = async (only?: (value: string) => boolean) => {
      const { model, exposed } = exposeMainGraph(current, only);
      const bytes = encodeModelBytes(model);
      const names = (model.graph?.output ?? []).map((v) => v.name ?? '');
      const expected = await o.run(o.baseline, bytes, o.feeds, names);
      const actual = await o.run(o.target, bytes, o.feeds, names);
      runs++;
      const hit = firstFailing(exposed, (e) => compareValue(e.output, actual.outputs[e.output], expected.outputs[e.output], o.tolerance));
      const outputsFail = originalOutputs.some((n) => compareValue(n, actual.outputs[n], expected.outputs[n], o.tolerance)?.status === 'fail');
      return { exposed, expected, actual, hit, outputsFail };
    };
    const all = await exposedRun();
    // The baseline's values of every intermediate come from this run whatever is found next (the baseline is the
    // yardstick; the repro and If conditions read them), the target's from the run that showed the fault.
    const { expected } = all;
    let { actual, hit } = all;
    if (!hit && !(o.step !== undefined && o.step > 0)) {
      // Every value exposed at once hid the fault: onnxruntime plans a graph's memory and fusions from its outputs,
      // so a fault that lives in a reused buffer or a fused pattern can vanish. One value at a time, in graph order,
      // changes the graph least: the first value out of tolerance while the outputs still fail names the node.
      // The graph's own outputs are compared in each run too: when every intermediate tried matches on its own while
      // an output fails, the first failing output's node is the first node out of tolerance.
      oneAtATime = true;
      const intermediates = all.exposed.filter((e) => !originalOutputs.includes(e.value));
      let outputsOnly: typeof all | undefined;
      for (const tried of intermediates.slice(0, MAX_ONE_AT_A_TIME)) {
        const one = await exposedRun((v) => v === tried.value || originalOutputs.includes(v));
        if (!one.outputsFail) {
          hiding.push(tried.value);
          continue;
        }
        // Every value before this one in graph order has been tried: a failure up to here is the first.
        if (one.hit && one.hit.exposed.order <= tried.order) {
          ({ actual, hit } = one);
          break;
        }
        outputsOnly ??= one;
      }
      if (!hit && outputsOnly && intermediates.length <= MAX_ONE_AT_A_TIME) ({ actual, hit } = outputsOnly);
    }
    if (!hit) {
      const hid = hiding.length > 0 ? `; exposing any of ${hiding.map((v) => `'${v}'`).join(', ')} alone hides it too, so the fault needs that value to stay inside the graph (a buffer onnxruntime reuses, or a fusion across it)` : '';
      return { ...base, instrumentedRuns: runs, ...(o.step !== undefined && o.step > 0
        ? { result: 'accumulation' as const, message: `accumulation: no single node leaves tolerance at step ${o.step} fed ${o.baseline.name}'s carried values; the error builds up over the steps` }
        : { result: 'masked' as const, message: `the instrumented models matched the baseline where the plain run failed, with every value exposed at once and with each exposed alone: exposing intermediate values changes what onnxruntime fuses (e.g. FusedGemm) and which buffers it reuses, which can mask or move a divergence${hid}` }) };
    }
    const node = hit.exposed.node;
    const nodeWhere = where.get(node.name ?? '') ?? 'main graph';
    if (node.opType === 'If' && (node.domain ?? '') === '') {
      const cond = expected.outputs[node.input![0]!] ?? o.feeds[node.input![0]!];
      if (cond) {
        const taken = Boolean((cond.data as ArrayLike<unknown>)[0]);
        const branch = node.attribute?.find((a) => a.name === (taken ? 'then_branch' : 'else_branch'))?.g;
        const label = `${nodeWhere === 'main graph' ? '' : `${nodeWhere} > `}If '${node.name}' ${taken ? 'then' : 'else'}_branch`;
        for (const n of branch?.node ?? []) where.set(n.name ?? '', label);
        current = inlineIf(current, node.name ?? '', taken);
        continue;
      }
    }
    const values = (n: string) => expected.outputs[n] ?? o.feeds[n];
    const constants = new Map<string, onnx.ITensorProto>((current.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
    const ep = actual.placements.find((p) => p.node === node.name)?.ep;
    found = { node, where: nodeWhere, outputs: outputsOf(node, hit.results, expected.outputs, actual.outputs), values, constants, constantOutputs: constantOutputsOf(current.graph), ...(ep ? { executionProvider: ep } : {}) };
    if ((node.opType === 'Loop' || node.opType === 'Scan') && (node.domain ?? '') === '') {
      try {
        const inBody = await localizeBody(o, current, node, nodeWhere, values);
        runs++;
        if (inBody) found = { ...inBody, constants: new Map([...constants, ...inBody.constants]), constantOutputs: new Set([...found.constantOutputs, ...inBody.constantOutputs]) };
      } catch (err) {
        // A body whose values cannot come out as scan outputs (shapes that change per iteration): the Loop/Scan node stands.
        bodyNote = `its body could not be exposed per iteration (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
      }
    }
  }
  if (!found) return { ...base, instrumentedRuns: runs, message: 'If branches nested too deep to follow' };
  const node = describe(found);
  const unchecked = (found.node.input ?? []).filter((v) => hiding.includes(v));
  const report: LocalizationReport = {
    ...base,
    result: 'node',
    instrumentedRuns: runs,
    node,
    message: `first node out of tolerance: ${node.opType} ${node.name ? `'${node.name}'` : `(unnamed, making ${node.outputs.map((x) => x.name).join(', ')})`} in ${node.where}${node.iteration !== undefined ? `, iteration ${node.iteration}` : ''} (max abs ${fmt(Math.max(...node.outputs.map((x) => x.maxAbs)))})${bodyNote ? `; ${bodyNote}` : ''}${oneAtATime ? `; found exposing one value at a time, because exposing all at once hid the fault${hiding.length > 0 ? ` (as exposing ${hiding.map((v) => `'${v}'`).join(', ')} alone does)` : ''}` : ''}${unchecked.length > 0 ? `; its input ${unchecked.map((v) => `'${v}'`).join(', ')} could not be checked (exposing it hides the fault), so the fault may lie before this node` : ''}`,
  };
  report.repro = await writeRepro(o, found, o.reportDir === undefined ? undefined : join(o.reportDir, `repro-${o.target.name}`));
  return report;
}

/** Values tried one at a time, at most, when exposing all at once hides a fault (each try is a run per backend). */
const MAX_ONE_AT_A_TIME = 64;

const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));

function firstFailing(exposed: ExposedValue[], cmp: (e: ExposedValue) => Compared | undefined): { exposed: ExposedValue; results: Map<string, Compared> } | undefined {
  const results = new Map<string, Compared>();
  for (const e of exposed) {
    const c = cmp(e);
    if (c) results.set(e.value, c);
  }
  const bad = exposed.find((e) => results.get(e.value)?.status === 'fail');
  return bad ? { exposed: bad, results } : undefined;
}

function outputsOf(node: onnx.INodeProto, results: Map<string, Compared>, expected: Record<string, Tensor>, actual: Record<string, Tensor>): LocalizedNode['outputs'] {
  return (node.output ?? []).filter(Boolean).map((n) => {
    const c = results.get(n) ?? { status: 'pass' as const, maxAbs: 0, maxRel: 0 };
    const t = expected[n] ?? actual[n];
    return { name: n, dtype: t ? dtypeOf(t) : 'unknown', dims: t ? [...t.dims] : [], maxAbs: c.maxAbs, maxRel: c.maxRel, status: c.status };
  });
}

/** The first (iteration, body node) out of tolerance inside Loop/Scan `node`, or undefined when every one stays within. */
async function localizeBody(o: LocalizeOptions, model: onnx.IModelProto, node: onnx.INodeProto, nodeWhere: string, outer: (n: string) => Tensor | undefined): Promise<Found | undefined> {
  const { model: inst, exposed, inputs } = exposeBody(model, node.name ?? '');
  const bytes = encodeModelBytes(inst);
  const names = (inst.graph?.output ?? []).map((v) => v.name ?? '');
  const expected = await o.run(o.baseline, bytes, o.feeds, names);
  const actual = await o.run(o.target, bytes, o.feeds, names);
  const iterations = Math.max(0, ...exposed.map((e) => expected.outputs[e.output]?.dims[0] ?? 0));
  const body = node.attribute!.find((a) => a.name === 'body')!.g!;
  for (let i = 0; i < iterations; i++) {
    const at = (name: string, from: Record<string, Tensor>) => (from[name] ? sliceAt(from[name]!, i) : undefined);
    const hit = firstFailing(exposed, (e) => compareValue(e.value, at(e.output, actual.outputs), at(e.output, expected.outputs), o.tolerance));
    if (!hit) continue;
    const local = new Map<string, Tensor>();
    for (const e of exposed) { const t = at(e.output, expected.outputs); if (t) local.set(e.value, t); }
    for (const v of inputs) { const t = at(v.output, expected.outputs); if (t) local.set(v.value, t); }
    const sliced = (from: Record<string, Tensor>) => Object.fromEntries(exposed.flatMap((e) => { const t = at(e.output, from); return t ? [[e.value, t]] : []; }));
    const ep = actual.placements.find((p) => p.node === hit.exposed.node.name)?.ep;
    return {
      node: hit.exposed.node,
      where: `${nodeWhere === 'main graph' ? '' : `${nodeWhere} > `}${node.opType} '${node.name}' body`,
      iteration: i,
      outputs: outputsOf(hit.exposed.node, hit.results, sliced(expected.outputs), sliced(actual.outputs)),
      values: (n) => local.get(n) ?? outer(n),
      constants: new Map((body.initializer ?? []).map((t) => [t.name ?? '', t])),
      constantOutputs: constantOutputsOf(body),
      ...(ep ? { executionProvider: ep } : {}),
    };
  }
  return undefined;
}

const isConstantInput = (f: Found, name: string): boolean => f.constants.has(name) || f.constantOutputs.has(name);

function describe(f: Found): LocalizedNode {
  const n = f.node;
  return {
    name: n.name ?? '',
    opType: n.opType ?? '',
    domain: n.domain || 'ai.onnx',
    attributes: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', attributeText(a)])),
    inputs: (n.input ?? []).filter(Boolean).map((name) => {
      const c = f.constants.get(name);
      const t = f.values(name);
      const dtype = t ? dtypeOf(t) : 'unknown';
      return { name, dtype, dims: t ? [...t.dims] : c ? (c.dims ?? []).map(Number) : [], constant: isConstantInput(f, name) };
    }),
    where: f.where,
    ...(f.iteration !== undefined ? { iteration: f.iteration } : {}),
    outputs: f.outputs,
    ...(f.executionProvider ? { executionProvider: f.executionProvider } : {}),
  };
}

/** repro-<backend>/: model.onnx of the node alone + test_data_set_0 with the baseline's values; re-run on both backends. */
async function writeRepro(o: LocalizeOptions, f: Found, dir: string | undefined): Promise<ReproReport> {
  const n = f.node;
  const feeds: Feeds = {};
  const constants: onnx.ITensorProto[] = [];
  for (const name of (n.input ?? []).filter(Boolean)) {
    const c = f.constants.get(name);
    if (c) { constants.push(c); continue; }
    const t = f.values(name);
    if (!t) throw new Error(`repro: no value for input ${name} of ${n.name}`);
    // A Constant node's value is a constant of the repro too: an initializer, as the issue asks.
    if (f.constantOutputs.has(name)) constants.push(onnx.TensorProto.decode(encodeTensorProto(name, t)));
    else feeds[name] = t;
  }
  const outputs: Record<string, Tensor> = {};
  for (const name of (n.output ?? []).filter(Boolean)) {
    const t = f.values(name);
    if (t) outputs[name] = t;
  }
  const source = decodeModelBytes(o.model);
  const model = encodeModelBytes(singleNodeModel(source, n, Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, typeOf(t)])), constants, Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, typeOf(t)]))));
  if (dir !== undefined) saveBundle(dir, model, [{ inputs: feeds, outputs }]);
  const names = Object.keys(outputs);
  const expected = await o.run(o.baseline, model, feeds, names);
  const actual = await o.run(o.target, model, feeds, names);
  let maxAbs = 0;
  let fails = false;
  for (const name of names) {
    const c = compareValue(name, actual.outputs[name], expected.outputs[name], o.tolerance);
    if (!c) continue;
    maxAbs = Math.max(maxAbs, c.maxAbs);
    if (c.status === 'fail') fails = true;
  }
  const tried = `${n.opType} ${n.name ? `'${n.name}'` : `(unnamed, making ${(n.output ?? []).join(', ')})`} alone (model.onnx, ${Object.keys(feeds).length} fed input(s), ${constants.length} initializer(s)) on ${o.target.name} and ${o.baseline.name}, fed ${o.baseline.name}'s input values`;
  return { ...(dir !== undefined ? { dir } : {}), verdict: fails ? 'reproduces alone' : 'does not reproduce alone', tried, maxAbs };
}

