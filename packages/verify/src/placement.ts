import { onnx } from '@gru-onnx/onnx';
import type { Placement } from './runner.ts';

/**
 * Where each node ran, from two onnxruntime sources:
 *
 * - the session profile (onnxruntime-node): one event per executed node with its `provider`, subgraph nodes
 *   (Scan/Loop/If bodies) included as they execute; the most direct evidence, used where available;
 * - the verbose log (`logSeverityLevel: 0`): after partitioning, session_state.cc prints "Node placements",
 *   then either " All nodes placed on [EP]. Number of nodes: N" or, per EP, " Node(s) placed on [EP]. Number
 *   of nodes: N" followed by "  OpType (name)" lines. Its counts include subgraph nodes. onnxruntime-web only
 *   offers this source.
 *
 * Both describe the graph after onnxruntime's optimisations, so fused nodes appear under their fused names
 * (e.g. "fused step_hw/MatMulAddFusion", op FusedGemm).
 */

/** Op types that carry the arithmetic of a recurrent model: the ones a GPU EP must run for its result to count. */
export const COMPUTE_OPS: readonly string[] = ['GRU', 'LSTM', 'RNN', 'MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm', 'Conv'];

/** Node name used for an "All nodes placed on [EP]" line whose nodes could not be named. */
export const ALL_NODES = '*';

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

/** Placements from an onnxruntime profile (JSON array of trace events); each node once, in first-run order. */
export function parseProfile(json: string): Placement[] {
  const events: unknown = JSON.parse(json);
  if (!Array.isArray(events)) throw new Error('onnxruntime profile is not a JSON array');
  const seen = new Map<string, Placement>();
  for (const e of events as ProfileEvent[]) {
    if (e.cat !== 'Node' || !e.name || !e.args?.provider || !e.args.op_name) continue;
    // Kernel events are named "<node>_kernel_time"; fence/before/after events of the same node share the prefix.
    const m = /^(.*)_kernel_time$/.exec(e.name);
    if (!m) continue;
    const node = m[1]!;
    if (!seen.has(node)) seen.set(node, { node, opType: e.args.op_name, ep: e.args.provider });
  }
  return [...seen.values()];
}

export interface LogPlacements {
  placements: Placement[];
  /** EP → node count as the log states it (subgraph nodes included). */
  counts: Record<string, number>;
}

/**
 * Placements from onnxruntime's verbose log lines. Each session prints one "Node placements" block; when
 * several blocks are present (several sessions), the last one wins. Returns undefined when there is none.
 */
export function parsePlacementLog(lines: Iterable<string>): LogPlacements | undefined {
  let current: LogPlacements | undefined;
  let ep: string | undefined;
  for (const raw of lines) {
    const text = stripLogPrefix(raw);
    if (text === undefined) continue;
    if (text.trim() === 'Node placements') {
      current = { placements: [], counts: {} };
      ep = undefined;
      continue;
    }
    if (!current) continue;
    const all = /^\s*All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(text);
    if (all) {
      current.counts[all[1]!] = Number(all[2]);
      current.placements.push({ node: ALL_NODES, opType: ALL_NODES, ep: all[1]! });
      ep = undefined;
      continue;
    }
    const some = /^\s*Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(text);
    if (some) {
      ep = some[1]!;
      current.counts[ep] = Number(some[2]);
      continue;
    }
    const node = /^\s+(\S+) \((.*)\)\s*$/.exec(text);
    if (node && ep) {
      current.placements.push({ node: node[2]!, opType: node[1]!, ep });
      continue;
    }
    ep = undefined;
  }
  return current;
}

/**
 * The message part of one onnxruntime log line (native: "2026-… [V:onnxruntime:, session_state.cc:1381 Fn] msg";
 * web: the same, sometimes behind a console prefix), or undefined for lines that are not onnxruntime's.
 */
function stripLogPrefix(line: string): string | undefined {
  const m = /\[[VIWEF]:onnxruntime:[^\]]*\](.*)$/.exec(line);
  return m ? m[1] : undefined;
}

/**
 * Every node of a graph and of its subgraphs (Scan/Loop/If bodies), depth first, as the model file lists them;
 * subgraph nodes carry `subgraph` ("<owner>.<attribute>", nested ones joined by "/").
 */
export function modelNodes(model: Uint8Array): Placement[] {
  const out: Placement[] = [];
  const walk = (g: onnx.GraphProto.$Properties | null | undefined, subgraph: string | undefined): void => {
    for (const n of g?.node ?? []) {
      out.push({ node: n.name ?? '', opType: n.opType ?? '', ep: '', ...(subgraph ? { subgraph } : {}) });
      for (const a of n.attribute ?? []) {
        const here = `${n.name ?? n.opType}.${a.name}`;
        const path = subgraph ? `${subgraph}/${here}` : here;
        if (a.g) walk(a.g, path);
        for (const sub of a.graphs ?? []) walk(sub, path);
      }
    }
  };
  walk(onnx.ModelProto.decode(model).graph, undefined);
  return out;
}

/**
 * Marks placements of subgraph nodes with their `subgraph`, matching node names against the model file. Fused
 * nodes ("fused step_hw/MatMulAddFusion", "step_hw/MatMulAddFusion") match by the name before the first '/'.
 * Nodes onnxruntime created (Memcpy, fused names with no source) stay unmarked.
 */
export function annotateSubgraphs(placements: readonly Placement[], model: Uint8Array): Placement[] {
  const owner = new Map<string, string>();
  for (const n of modelNodes(model)) if (n.subgraph && n.node) owner.set(n.node, n.subgraph);
  return placements.map((p) => {
    if (p.subgraph) return p;
    const base = p.node.replace(/^fused /, '').split('/')[0]!;
    const subgraph = owner.get(p.node) ?? owner.get(base);
    return subgraph ? { ...p, subgraph } : p;
  });
}

/**
 * Names the nodes behind an "All nodes placed on [EP]" line from the model file (subgraphs included). With one
 * EP for every node, each node of the model ran there, whatever fusions renamed or merged: the EP is the log's,
 * the names the model's, hence `inferred: true`. (A node optimised away entirely is listed though it never ran.)
 */
export function expandAllNodes(log: LogPlacements, model: Uint8Array): Placement[] {
  const all = log.placements.find((p) => p.node === ALL_NODES);
  if (!all || log.placements.length !== 1) return log.placements;
  return modelNodes(model).map((n) => ({ ...n, ep: all.ep, inferred: true }));
}

/**
 * The nodes among `opTypes` (default COMPUTE_OPS) that did not run on `ep`: for a GPU backend, the work it did
 * not do. An unnamed "all nodes" placement on another EP counts as every op.
 */
export function fallbackNodes(placements: readonly Placement[], ep: string, opTypes: readonly string[] = COMPUTE_OPS): Placement[] {
  return placements.filter((p) => p.ep !== ep && (p.opType === ALL_NODES || opTypes.includes(p.opType)));
}

/**
 * The op types (sorted, unique) that fell back from `ep`: `fallbackOps(r.placements, 'WebGpuExecutionProvider')`
 * is `['GRU']` for onnxruntime-web 1.30's webgpu EP, which makes that run `partial`. Empty means `ep` ran all
 * of the compute ops. ALL_NODES ('*') means every node ran elsewhere and the log did not name them.
 */
export function fallbackOps(placements: readonly Placement[], ep: string, opTypes: readonly string[] = COMPUTE_OPS): string[] {
  return [...new Set(fallbackNodes(placements, ep, opTypes).map((p) => p.opType))].sort();
}
