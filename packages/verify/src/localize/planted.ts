import { attr, decodeModelBytes, encodeModel, encodeModelBytes, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, perturbNode } from '@gru-onnx/onnx';
import type { Runner } from '../runner.ts';

/**
 * A small model with a node at top level, one in each If branch and one in a Loop body, for localization tests:
 *   a = x·w ('scale'); b = tanh(a) ('act'); cond = sum(b) > 0 ('pos');
 *   y1 = If(cond) then b + 1 ('then_add') else b − 1 ('else_sub');
 *   h = Loop 3 times h ← h·0.5 ('body_mul') + x ('body_add'), from y1; y = relu(h) ('head').
 */
export function plantedModel(): Uint8Array {
  const f = (name: string) => makeValueInfo(name, 'float32', undefined);
  const one = (name: string, v: number) => makeNode('Constant', [], [name], { value: attr.tensor(makeTensor(name, 'float32', [], [v])) }, { name });
  const thenBranch = makeGraph({ name: 'then', nodes: [one('one_t', 1), makeNode('Add', ['b', 'one_t'], ['t_out'], {}, { name: 'then_add' })], inputs: [], outputs: [f('t_out')] });
  const elseBranch = makeGraph({ name: 'else', nodes: [one('one_e', 1), makeNode('Sub', ['b', 'one_e'], ['e_out'], {}, { name: 'else_sub' })], inputs: [], outputs: [f('e_out')] });
  const body = makeGraph({
    name: 'body',
    nodes: [
      one('half', 0.5),
      makeNode('Mul', ['h_in', 'half'], ['hm'], {}, { name: 'body_mul' }),
      makeNode('Add', ['hm', 'x'], ['h_out'], {}, { name: 'body_add' }),
      makeNode('Identity', ['c_in'], ['c_out'], {}, { name: 'body_cond' }),
    ],
    inputs: [makeValueInfo('i', 'int64', []), makeValueInfo('c_in', 'bool', []), f('h_in')],
    outputs: [makeValueInfo('c_out', 'bool', []), f('h_out')],
  });
  const graph = makeGraph({
    name: 'planted',
    nodes: [
      makeNode('Mul', ['x', 'w'], ['a'], {}, { name: 'scale' }),
      makeNode('Tanh', ['a'], ['b'], {}, { name: 'act' }),
      makeNode('ReduceSum', ['b'], ['s'], { keepdims: attr.int(0) }, { name: 'sum' }),
      one('zero', 0),
      makeNode('Greater', ['s', 'zero'], ['cond'], {}, { name: 'pos' }),
      makeNode('If', ['cond'], ['y1'], { then_branch: attr.graph(thenBranch), else_branch: attr.graph(elseBranch) }, { name: 'branch' }),
      makeNode('Constant', [], ['trips'], { value: attr.tensor(makeTensor('trips', 'int64', [], [3])) }, { name: 'trips' }),
      makeNode('Loop', ['trips', '', 'y1'], ['h'], { body: attr.graph(body) }, { name: 'loop' }),
      makeNode('Relu', ['h'], ['y'], {}, { name: 'head' }),
    ],
    inputs: [makeValueInfo('x', 'float32', [2, 3])],
    outputs: [makeValueInfo('y', 'float32', [2, 3])],
    initializers: [makeTensor('w', 'float32', [2, 3], [0.5, 0.25, 1, 0.75, 0.1, 0.2])],
  });
  return encodeModel(makeModel(graph, { opset: 17 }));
}

/** A stateful model: h_out = h + x ('mix'), carried h_out → h; an error in 'mix' accumulates over the steps. */
export function statefulModel(): Uint8Array {
  const v = (name: string) => makeValueInfo(name, 'float32', [1, 3]);
  const graph = makeGraph({
    name: 'stateful',
    nodes: [makeNode('Add', ['h', 'x'], ['s'], {}, { name: 'mix' }), makeNode('Identity', ['s'], ['h_out'], {}, { name: 'out' })],
    inputs: [v('x'), v('h')],
    outputs: [v('h_out')],
  });
  return encodeModel(makeModel(graph, { opset: 17 }));
}

/**
 * A test-only backend: `inner` (a real runtime) run on the model with `delta` added to node `name`'s output
 * wherever that node is (top level, If branch, Loop body), so instrumented copies carry the fault too. It keeps
 * the name `as` so reports show it as that backend.
 */
export function nodeCorruptingRunner(inner: Runner, name: string, delta: number, as: Runner['name'] = 'ort-wasm'): Runner {
  return {
    name: as,
    probe: () => inner.probe(),
    close: () => inner.close(),
    run: (job, signal) => inner.run({ ...job, model: encodeModelBytes(perturbNode(decodeModelBytes(job.model), name, delta)) }, signal),
  };
}
