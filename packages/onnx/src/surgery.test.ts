import { describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.ts';
import { exposeBody, exposeMainGraph, inlineIf, perturbNode, singleNodeModel } from './surgery.ts';
import type { onnx } from './proto.ts';

const f = (name: string) => makeValueInfo(name, 'float32', undefined);
function model(): onnx.ModelProto {
  const then = makeGraph({ name: 'then', nodes: [makeNode('Neg', ['a'], ['t'], {}, { name: 'neg' })], inputs: [], outputs: [f('t')] });
  const other = makeGraph({ name: 'else', nodes: [makeNode('Abs', ['a'], ['e'], {}, { name: 'abs' })], inputs: [], outputs: [f('e')] });
  const body = makeGraph({
    name: 'body',
    nodes: [makeNode('Add', ['h', 'y'], ['h2'], {}, { name: 'acc' }), makeNode('Identity', ['c'], ['c2'], {}, { name: 'keep' })],
    inputs: [makeValueInfo('i', 'int64', []), makeValueInfo('c', 'bool', []), f('h')],
    outputs: [makeValueInfo('c2', 'bool', []), f('h2')],
  });
  return makeModel(makeGraph({
    name: 'g',
    nodes: [
      makeNode('Relu', ['x'], ['a'], {}, { name: 'relu' }),
      makeNode('If', ['p'], ['y'], { then_branch: attr.graph(then), else_branch: attr.graph(other) }, { name: 'branch' }),
      makeNode('Loop', ['n', '', 'y'], ['z'], { body: attr.graph(body) }, { name: 'loop' }),
    ],
    inputs: [f('x'), makeValueInfo('p', 'bool', []), makeValueInfo('n', 'int64', [])],
    outputs: [f('z')],
  }), { opset: 17 });
}

describe('graph surgery', () => {
  it('exposes every main-graph node output once, in node order, leaving the input model alone', () => {
    const m = model();
    const { model: out, exposed } = exposeMainGraph(m);
    expect(exposed.map((e) => [e.value, e.node.name, e.order])).toEqual([['a', 'relu', 0], ['y', 'branch', 1], ['z', 'loop', 2]]);
    expect(out.graph!.output!.map((o) => o.name)).toEqual(['z', 'a', 'y']);
    expect(m.graph!.output).toHaveLength(1);
    // Only the values asked for: one at a time, as --localize tries them when all at once hides a fault.
    const one = exposeMainGraph(m, (v) => v === 'y');
    expect(one.exposed.map((e) => e.value)).toEqual(['y']);
    expect(one.model.graph!.output!.map((o) => o.name)).toEqual(['z', 'y']);
  });

  it.each([[true, 'Neg'], [false, 'Abs']] as const)('inlines the branch taken (cond %s → %s), renamed to the If output', (cond, op) => {
    const g = inlineIf(model(), 'branch', cond).graph!;
    expect(g.node!.map((n) => n.opType)).toEqual(['Relu', op, 'Identity', 'Loop']);
    expect(g.node![2]!.output).toEqual(['y']);
  });

  it('exposes a Loop body: each body input through an Identity, each body node output, as extra scan outputs', () => {
    const { model: out, exposed, inputs } = exposeBody(model(), 'loop');
    const loop = out.graph!.node!.find((n) => n.name === 'loop')!;
    expect(inputs.map((i) => i.value)).toEqual(['i', 'c', 'h']);
    expect(exposed.map((e) => e.value)).toEqual(['h2', 'c2']);
    // 1 carried value + 5 exposed (3 inputs, 2 node outputs); the body has cond + carried + 5 outputs.
    expect(loop.output).toHaveLength(6);
    expect(loop.attribute![0]!.g!.output).toHaveLength(7);
    expect(out.graph!.output!.map((o) => o.name).slice(1)).toEqual(loop.output!.slice(1));
  });

  it('cuts one node out with typed inputs and outputs and its constants as initializers', () => {
    const node = model().graph!.node![0]!;
    const m = singleNodeModel(model(), node, { x: { elemType: 1, dims: [2] } }, [makeTensor('k', 'float32', [1], [1])], { a: { elemType: 1, dims: [2] } });
    expect(m.graph!.node!.map((n) => n.name)).toEqual(['relu']);
    expect(m.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue))).toEqual([2]);
    expect(m.graph!.initializer!.map((t) => t.name)).toEqual(['k']);
  });

  it('plants a fault after a named node, in a subgraph too, and refuses a name it does not find', () => {
    const body = perturbNode(model(), 'acc', 0.5).graph!.node![2]!.attribute![0]!.g!;
    expect(body.node!.map((n) => n.opType)).toEqual(['Add', 'Constant', 'Add', 'Identity']);
    expect(body.node![2]!.output).toEqual(['h2']);
    expect(() => perturbNode(model(), 'nope', 1)).toThrow('no node named nope');
  });
});
