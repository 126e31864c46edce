import { describe, expect, it } from 'vitest';
import { loadSourceModel } from '@gru-onnx/model';
import { allNodes, exportSourceModel, onnx } from '@gru-onnx/onnx';
import { FIXTURES, fixtureCases, summary, verifyOnOrt } from './imports-helpers.ts';

/** The fixtures/pytorch classifiers' exports, verified against PyTorch's outputs on ort-cpu and ort-wasm (1e-5 abs). */
export function describePytorchImports(names: string[]): void {
  describe('PyTorch nn.GRU classifiers → ONNX, verified against PyTorch on ort-cpu and ort-wasm (1e-5 abs)', () => {
    it.each(names)('%s', async (name) => {
      // fixtures/pytorch's classifiers read the final state (tools/fixtures/pytorch-imports.py).
      const source = loadSourceModel(`${FIXTURES}pytorch/${name}.safetensors`, undefined, { head: 'final-state' });
      if (source.kind !== 'pytorch-gru') throw new Error(`detected as ${source.kind}`);
      const bytes = exportSourceModel(source);

      const graph = onnx.ModelProto.decode(bytes).graph!;
      const grus = allNodes(graph).filter((n) => n.opType === 'GRU');
      expect(grus).toHaveLength(source.numLayers);
      for (const g of grus) {
        const a = Object.fromEntries((g.attribute ?? []).map((x) => [x.name, x]));
        expect(new TextDecoder().decode(a.direction!.s!)).toBe(source.bidirectional ? 'bidirectional' : 'forward');
        expect(Number(a.linear_before_reset!.i)).toBe(1);
      }

      const cases = fixtureCases(`${FIXTURES}pytorch/${name}.cases.safetensors`, source.batchFirst!);
      expect(new Set(cases.map((c) => c.seq))).toEqual(new Set([1, 10, 37]));
      const report = await verifyOnOrt(bytes, cases);
      expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
        ['ort-cpu', 'pass', cases.length],
        ['ort-wasm', 'pass', cases.length],
      ]);
    });
  });
}
