import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { attr, encodeModel, localizeInitializers, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.ts';
import { checkModel } from './checker.ts';
import type { onnx } from './proto.ts';

const vi = (name: string) => makeValueInfo(name, 'float32', [2]);
const k = (name: string, v: number) => makeTensor(name, 'float32', [2], [v, v]);

/** y = If(c) then x + a + shared, else x · b + shared; top = y + main. */
function model(): onnx.ModelProto {
  const thenG = makeGraph({ name: 'then', nodes: [makeNode('Add', ['x', 'a'], ['xa']), makeNode('Add', ['xa', 'shared'], ['t'])], inputs: [], outputs: [vi('t')] });
  const elseG = makeGraph({ name: 'else', nodes: [makeNode('Mul', ['x', 'b'], ['xb']), makeNode('Add', ['xb', 'shared'], ['e'])], inputs: [], outputs: [vi('e')] });
  const graph = makeGraph({
    name: 'g',
    nodes: [
      makeNode('If', ['c'], ['y'], { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }),
      makeNode('Add', ['y', 'main'], ['out']),
    ],
    inputs: [vi('x'), makeValueInfo('c', 'bool', [])],
    outputs: [vi('out')],
    initializers: [k('a', 1), k('b', 3), k('shared', 10), k('main', 100), k('unused', 0)],
  });
  return makeModel(graph, { opset: 17 });
}

const names = (g: onnx.IGraphProto | null | undefined) => (g?.initializer ?? []).map((t) => t.name);
const branch = (m: onnx.IModelProto, which: string) => m.graph!.node![0]!.attribute!.find((a) => a.name === which)!.g!;

describe('localizeInitializers', () => {
  it('moves a constant into the one subgraph that uses it; shared, top-level and unused ones stay', async () => {
    const m = model();
    localizeInitializers(m.graph!);
    expect(names(m.graph)).toEqual(['shared', 'main', 'unused']);
    expect(names(branch(m, 'then_branch'))).toEqual(['a']);
    expect(names(branch(m, 'else_branch'))).toEqual(['b']);
    expect(checkModel(m)).toEqual([]);
    // Same answers as before the move, on onnxruntime.
    const s = await ort.InferenceSession.create(encodeModel(m));
    const x = new ort.Tensor('float32', Float32Array.from([1, 2]), [2]);
    const run = async (c: boolean) => [...((await s.run({ x, c: new ort.Tensor('bool', [c], []) })).out!.data as Float32Array)];
    expect(await run(true)).toEqual([112, 113]);
    expect(await run(false)).toEqual([113, 116]);
    await s.release();
  });

  it('is a no-op on a graph without subgraphs, and encodes the same bytes twice', () => {
    const flat = makeModel(makeGraph({ name: 'g', nodes: [makeNode('Add', ['x', 'a'], ['y'])], inputs: [vi('x')], outputs: [vi('y')], initializers: [k('a', 1)] }), { opset: 17 });
    const before = encodeModel(flat);
    localizeInitializers(flat.graph!);
    expect(Buffer.from(encodeModel(flat)).equals(Buffer.from(before))).toBe(true);
    const a = model();
    const b = model();
    localizeInitializers(a.graph!);
    localizeInitializers(b.graph!);
    expect(Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b)))).toBe(true);
  });
});
