import { describe, expect, it } from 'vitest';
import { loadCheckpoint, loadSourceModel } from '@gru-onnx/model';
import { exportSourceModel } from '@gru-onnx/onnx';
import { FIXTURES, fixtureCases, summary, verifyOnOrt } from './imports-helpers.ts';

describe("the seed's MyModel made by PyTorch → ONNX, verified against PyTorch on ort-cpu and ort-wasm (1e-5 abs)", () => {
  it('passes for the default export (auto) and the fused form', async () => {
    const source = loadSourceModel(`${FIXTURES}seed-pytorch/model.safetensors`);
    expect(source.kind).toBe('seed');
    // The same file is a native checkpoint: the CLI's train/export path reads it unchanged.
    expect(loadCheckpoint(`${FIXTURES}seed-pytorch/model.safetensors`).config).toEqual({ inputSize: 8, hiddenSize: 16, outputSize: 4 });
    const cases = fixtureCases(`${FIXTURES}seed-pytorch/model.cases.safetensors`, true);
    for (const form of ['auto', 'fused'] as const) {
      const report = await verifyOnOrt(exportSourceModel(source, { form }), cases);
      expect(report.backends.map((b) => [b.name, b.status]), `${form}: ${summary(report)}`).toEqual([['ort-cpu', 'pass'], ['ort-wasm', 'pass']]);
    }
  });
});
