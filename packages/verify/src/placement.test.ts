import { describe, expect, test } from 'vitest';
import { onnx } from '@gru-onnx/onnx';
import { ALL_NODES, annotateSubgraphs, expandAllNodes, fallbackOps, modelNodes, parsePlacementLog, parseProfile } from './placement.ts';
import { randomParams, scanRnnModel, seedGruModel } from './runners/tiny-models.ts';

// Lines as onnxruntime 1.29 (native) and onnxruntime-web 1.30 (page console) print them.
const ALL = [
  '2026-11-26 15:01:27.394446128 [V:onnxruntime:, session_state.cc:1378 VerifyEachNodeIsAssignedToAnEp] Node placements',
  '2026-11-26 15:01:27.394448220 [V:onnxruntime:, session_state.cc:1381 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [CPUExecutionProvider]. Number of nodes: 7',
];
const MIXED = [
  '2026-11-26 15:08:45.994324 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
  '2026-11-26 15:08:45.994550 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2',
  '2026-11-26 15:08:45.994560 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   GRU (gru)',
  '2026-11-26 15:08:45.994570 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Scan (scan)',
  '2026-11-26 15:08:45.994830 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 2',
  '2026-11-26 15:08:45.994840 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   MatMul (step_xw)',
  '2026-11-26 15:08:45.994850 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Gemm (step_hw/MatMulAddFusion)',
  '2026-11-26 15:08:45.995000 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping',
];

describe('parsePlacementLog', () => {
  test('reads a mixed block node by node', () => {
    const r = parsePlacementLog(['unrelated line', ...MIXED])!;
    expect(r.counts).toEqual({ CPUExecutionProvider: 2, WebGpuExecutionProvider: 2 });
    expect(r.placements).toEqual([
      { node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider' },
      { node: 'scan', opType: 'Scan', ep: 'CPUExecutionProvider' },
      { node: 'step_xw', opType: 'MatMul', ep: 'WebGpuExecutionProvider' },
      { node: 'step_hw/MatMulAddFusion', opType: 'Gemm', ep: 'WebGpuExecutionProvider' },
    ]);
  });

  test('an "all nodes" line becomes one unnamed placement; the last block wins', () => {
    const r = parsePlacementLog([...MIXED, ...ALL])!;
    expect(r.placements).toEqual([{ node: ALL_NODES, opType: ALL_NODES, ep: 'CPUExecutionProvider' }]);
    expect(r.counts).toEqual({ CPUExecutionProvider: 7 });
  });

  test('no block, no answer', () => {
    expect(parsePlacementLog(['[I:onnxruntime:, inference_session.cc:2867 Initialize] Session successfully initialized.'])).toBeUndefined();
  });
});

describe('expandAllNodes', () => {
  const model = () => seedGruModel(randomParams({ inputSize: 3, hiddenSize: 4, outputSize: 2 }, 1));

  test('names the nodes from the model', () => {
    const r = expandAllNodes(parsePlacementLog(ALL)!, model());
    expect(r).toHaveLength(7);
    expect(r.find((p) => p.opType === 'GRU')).toEqual({ node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider', inferred: true });
  });

  test('also when fusions changed the node count: every node was on the one EP', () => {
    const four = [ALL[0]!, ALL[1]!.replace('Number of nodes: 7', 'Number of nodes: 4')];
    const r = expandAllNodes(parsePlacementLog(four)!, model());
    expect(r).toHaveLength(7);
    expect(r.every((p) => p.ep === 'CPUExecutionProvider' && p.inferred)).toBe(true);
  });

  test('leaves named placements alone', () => {
    expect(expandAllNodes(parsePlacementLog(MIXED)!, model())).toHaveLength(4);
  });

  test('modelNodes walks into Scan bodies', () => {
    const nodes = modelNodes(scanRnnModel(new Float32Array(6), new Float32Array(4), 3, 2));
    expect(nodes.map((n) => n.node)).toEqual(['zeros_like', 'h0', 'scan', 'step_xw', 'step_hw', 'step_add', 'step_tanh', 'step_copy']);
    expect(nodes.map((n) => n.subgraph)).toEqual([undefined, undefined, undefined, ...Array(5).fill('scan.body')]);
  });

  test('annotateSubgraphs marks body nodes, fused ones by their source name', () => {
    const model = scanRnnModel(new Float32Array(6), new Float32Array(4), 3, 2);
    const r = annotateSubgraphs(parsePlacementLog(MIXED)!.placements, model);
    expect(r.map((p) => [p.node, p.subgraph])).toEqual([
      ['gru', undefined],
      ['scan', undefined],
      ['step_xw', 'scan.body'],
      ['step_hw/MatMulAddFusion', 'scan.body'],
    ]);
  });
});

describe('parseProfile', () => {
  test('one placement per executed node, subgraph nodes once however many steps ran', () => {
    const ev = (name: string, op: string, provider: string) => ({ cat: 'Node', name, args: { op_name: op, provider } });
    const json = JSON.stringify([
      { cat: 'Session', name: 'model_loading_array' },
      ev('gru_fence_before', 'GRU', 'CUDAExecutionProvider'),
      ev('gru_kernel_time', 'GRU', 'CUDAExecutionProvider'),
      ev('step_xw_kernel_time', 'MatMul', 'CPUExecutionProvider'),
      ev('step_xw_kernel_time', 'MatMul', 'CPUExecutionProvider'),
    ]);
    expect(parseProfile(json)).toEqual([
      { node: 'gru', opType: 'GRU', ep: 'CUDAExecutionProvider' },
      { node: 'step_xw', opType: 'MatMul', ep: 'CPUExecutionProvider' },
    ]);
  });
});

describe('fallbackOps', () => {
  // Inside each test, not in the describe body: a throw there leaves vitest with no tests to fail.
  const mixed = () => parsePlacementLog(MIXED)!.placements;

  test('names the compute ops that ran off the EP', () => {
    expect(fallbackOps(mixed(), 'WebGpuExecutionProvider')).toEqual(['GRU']);
    expect(fallbackOps(mixed(), 'CPUExecutionProvider')).toEqual(['Gemm', 'MatMul']);
  });

  test('an explicit op list, e.g. control flow', () => {
    expect(fallbackOps(mixed(), 'WebGpuExecutionProvider', ['Scan'])).toEqual(['Scan']);
  });

  test('nothing fell back', () => {
    expect(fallbackOps(mixed().filter((p) => p.ep !== 'CPUExecutionProvider'), 'WebGpuExecutionProvider')).toEqual([]);
  });

  test('an unnamed "all nodes elsewhere" counts as everything', () => {
    expect(fallbackOps(parsePlacementLog(ALL)!.placements, 'WebGpuExecutionProvider')).toEqual([ALL_NODES]);
  });
});

const LOG = (text: string) => `2026-11-26 15:08:45.994560 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp] ${text}`;
const F = onnx.AttributeProto.AttributeType;

/** A model whose node `outer` holds two bodies in a GRAPHS attribute, the second with an If inside (nesting). */
function nestedModel(): Uint8Array {
  const inner = { node: [{ name: 'deep', opType: 'Relu' }] };
  const bodies = [
    { node: [{ name: 'a', opType: 'Relu' }, { opType: 'Identity' }] },
    { node: [{ name: 'cond', opType: 'If', attribute: [{ name: 'then_branch', type: F.GRAPH, g: inner }] }] },
  ];
  return onnx.ModelProto.encode({ graph: { node: [{ name: 'outer', opType: 'Custom', attribute: [{ name: 'bodies', type: F.GRAPHS, graphs: bodies }] }] } }).finish();
}

describe('the placement readers, line by line', () => {
  test('parseProfile refuses a profile that is not an array, skips events that are not node kernels, keeps the first EP seen', () => {
    expect(() => parseProfile('{}')).toThrow('onnxruntime profile is not a JSON array');
    const json = JSON.stringify([
      { cat: 'Session', name: 'a_kernel_time', args: { op_name: 'MatMul', provider: 'CPUExecutionProvider' } },
      { cat: 'Node', args: { op_name: 'MatMul', provider: 'CPUExecutionProvider' } },
      { cat: 'Node', name: 'b_kernel_time' },
      { cat: 'Node', name: 'c_kernel_time', args: { op_name: 'MatMul' } },
      { cat: 'Node', name: 'd_kernel_time', args: { provider: 'CPUExecutionProvider' } },
      { cat: 'Node', name: 'e_kernel_time_end', args: { op_name: 'MatMul', provider: 'CPUExecutionProvider' } },
      { cat: 'Node', name: 'gru_kernel_time', args: { op_name: 'GRU', provider: 'CUDAExecutionProvider' } },
      { cat: 'Node', name: 'gru_kernel_time', args: { op_name: 'GRU', provider: 'CPUExecutionProvider' } },
    ]);
    expect(parseProfile(json)).toEqual([{ node: 'gru', opType: 'GRU', ep: 'CUDAExecutionProvider' }]);
  });

  test('parsePlacementLog: counts of any size, trailing blanks, and only indented "OpType (name)" lines inside an EP list', () => {
    const r = parsePlacementLog([
      LOG('Node placements'),
      LOG(' All nodes placed on [CPUExecutionProvider]. Number of nodes: 12'),
      LOG('  Relu (after_all)'),
      LOG(' Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 10'),
      LOG('  GRU (gru)   '),
      LOG('  Gemm (head) extra'),
      LOG('  MatMul (after_a_break)'),
      LOG(' Reason: All nodes placed on [Quoted]. Number of nodes: 1'),
      LOG(' Reason: Node(s) placed on [Quoted]. Number of nodes: 1'),
      LOG(' Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 1'),
      '[V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]Memcpy Tanh (no_indent)',
      'a line from elsewhere',
      '  Sigmoid (not_onnxruntime)',
    ])!;
    expect(r.counts).toEqual({ CPUExecutionProvider: 12, CUDAExecutionProvider: 10, WebGpuExecutionProvider: 1 });
    expect(r.placements).toEqual([
      { node: ALL_NODES, opType: ALL_NODES, ep: 'CPUExecutionProvider' },
      { node: 'gru', opType: 'GRU', ep: 'CUDAExecutionProvider' },
    ]);
    // Lines before the first "Node placements" belong to no block; other severities of onnxruntime's log count.
    const early = [LOG('  GRU (early)'), LOG(' Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1'), LOG(' All nodes placed on [CPUExecutionProvider]. Number of nodes: 1')];
    expect(parsePlacementLog([...early, LOG('Node placements').replace('[V:', '[I:')])).toEqual({ placements: [], counts: {} });
    expect(parsePlacementLog(['[X:onnxruntime:, a] Node placements'])).toBeUndefined();
  });

  test('modelNodes: no graph, nested subgraphs (GRAPH and GRAPHS attributes) with their full path', () => {
    expect(modelNodes(onnx.ModelProto.encode({}).finish())).toEqual([]);
    expect(modelNodes(nestedModel()).map((n) => [n.node, n.subgraph])).toEqual([
      ['outer', undefined],
      ['a', 'outer.bodies'],
      ['', 'outer.bodies'],
      ['cond', 'outer.bodies'],
      ['deep', 'outer.bodies/cond.then_branch'],
    ]);
    expect(modelNodes(nestedModel()).every((n) => n.ep === '')).toBe(true);
  });

  test('annotateSubgraphs keeps a subgraph already given, and matches "fused " names by their source node', () => {
    const r = annotateSubgraphs(
      [
        { node: 'a', opType: 'Relu', ep: 'X', subgraph: 'given' },
        { node: 'fused deep/ReluFusion', opType: 'Relu', ep: 'X' },
        { node: 'outer', opType: 'Custom', ep: 'X' },
        // An unnamed node cannot be matched: the body's unnamed Identity must not lend it its subgraph.
        { node: '', opType: 'Identity', ep: 'X' },
        // Only a leading "fused " is onnxruntime's: without it this is not body node 'a'.
        { node: 'afused ', opType: 'Relu', ep: 'X' },
      ],
      nestedModel(),
    );
    expect(r.map((p) => p.subgraph)).toEqual(['given', 'outer.bodies/cond.then_branch', undefined, undefined, undefined]);
  });

  test('expandAllNodes expands only a lone "all nodes" placement', () => {
    const lone = { placements: [{ node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider' }], counts: {} };
    expect(expandAllNodes(lone, nestedModel())).toBe(lone.placements);
    const two = { placements: [{ node: ALL_NODES, opType: ALL_NODES, ep: 'A' }, { node: 'gru', opType: 'GRU', ep: 'B' }], counts: {} };
    expect(expandAllNodes(two, nestedModel())).toBe(two.placements);
    expect(expandAllNodes({ placements: [two.placements[0]!], counts: {} }, nestedModel()).map((p) => [p.node, p.ep])).toEqual([
      ['outer', 'A'],
      ['a', 'A'],
      ['', 'A'],
      ['cond', 'A'],
      ['deep', 'A'],
    ]);
  });

  test('a placement with an empty op type is not taken for "every node"', () => {
    expect(fallbackOps([{ node: '', opType: '', ep: 'CPUExecutionProvider' }], 'CUDAExecutionProvider')).toEqual([]);
  });
});
