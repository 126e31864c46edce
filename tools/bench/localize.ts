/**
 * What --localize costs (issue 16, part 4): a chain of N nodes (MatMul 64×64 then Tanh, repeated) with a planted
 * fault two thirds along (w near the identity, so the error reaches the output), verified on ort-cpu (baseline) against a fault-planting ort-cpu, with and without
 * --localize. Prints both times measured in this run and their ratio, and the instrumented runs it took.
 *   npx tsx tools/bench/localize.ts [nodes=300] [rounds=3]
 */
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@gru-onnx/onnx';
import { createRunner } from '../../packages/verify/src/registry.ts';
import { nodeCorruptingRunner } from '../../packages/verify/src/localize/planted.ts';
import { verifyModel } from '../../packages/verify/src/verify.ts';
import type { Feeds } from '../../packages/verify/src/runner.ts';

const D = 64;

/** A chain of `nodes` nodes, with one name per node ('n0', 'n1', …). */
export function chainModel(nodes: number): Uint8Array {
  const w = makeTensor('w', 'float32', [D, D], Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0) + Math.sin(i) * 0.01));
  const list = Array.from({ length: nodes }, (_, i) => {
    const from = i === 0 ? 'x' : `v${i - 1}`;
    const to = i === nodes - 1 ? 'y' : `v${i}`;
    return i % 2 === 0 ? makeNode('MatMul', [from, 'w'], [to], {}, { name: `n${i}` }) : makeNode('Tanh', [from], [to], {}, { name: `n${i}` });
  });
  const graph = makeGraph({ name: 'chain', nodes: list, inputs: [makeValueInfo('x', 'float32', [8, D])], outputs: [makeValueInfo('y', 'float32', [8, D])], initializers: [w] });
  return encodeModel(makeModel(graph, { opset: 17 }));
}

export interface LocalizeBench {
  nodes: number;
  plainMs: number;
  localizeMs: number;
  ratio: number;
  instrumentedRuns: number;
  found: string | undefined;
}

export async function benchLocalize(nodes: number, rounds: number): Promise<LocalizeBench> {
  const model = chainModel(nodes);
  const feeds: Feeds = { x: { dims: [8, D], data: Float32Array.from({ length: 8 * D }, (_, i) => Math.cos(i)) } };
  const planted = `n${Math.floor((nodes * 2) / 3)}`;
  const once = async (localize: boolean) => {
    const t0 = performance.now();
    const r = await verifyModel({
      model,
      cases: [{ id: 'set 0', kind: 'signature', feeds }],
      baseline: 'ort-cpu',
      runners: [createRunner('ort-cpu'), nodeCorruptingRunner(createRunner('ort-cpu'), planted, 1)],
      ...(localize ? { localize: {} } : {}),
    });
    return { ms: performance.now() - t0, l: r.backends[1]!.localization };
  };
  let plainMs = Infinity;
  let localizeMs = Infinity;
  let last: Awaited<ReturnType<typeof once>>['l'];
  for (let i = 0; i < rounds; i++) {
    plainMs = Math.min(plainMs, (await once(false)).ms);
    const l = await once(true);
    localizeMs = Math.min(localizeMs, l.ms);
    last = l.l;
  }
  return { nodes, plainMs, localizeMs, ratio: localizeMs / plainMs, instrumentedRuns: last?.instrumentedRuns ?? 0, found: last?.node?.name };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const nodes = Number(process.argv[2] ?? 300);
  const b = await benchLocalize(nodes, Number(process.argv[3] ?? 3));
  console.log(`${b.nodes} nodes, fault planted at n${Math.floor((nodes * 2) / 3)}, found ${b.found}`);
  console.log(`verify without --localize (baseline): ${b.plainMs.toFixed(0)} ms; with --localize: ${b.localizeMs.toFixed(0)} ms; ratio ${b.ratio.toFixed(2)}×; instrumented runs per backend: ${b.instrumentedRuns}`);
}
