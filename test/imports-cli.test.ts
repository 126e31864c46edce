import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTfjs, saveTfjsLayersModel } from '@gru-onnx/model';
import { allNodes, onnx } from '@gru-onnx/onnx';
import { runCli } from './cli-helpers.ts';
import { FIXTURES } from './imports-helpers.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imports-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exported(path: string) {
  const m = onnx.ModelProto.decode(readFileSync(path));
  return {
    source: m.metadataProps!.find((p) => p.key === 'gru_onnx.source')?.value,
    target: m.metadataProps!.find((p) => p.key === 'gru_onnx.target')?.value,
    form: m.metadataProps!.find((p) => p.key === 'gru_onnx.form')?.value,
    ops: allNodes(m.graph!).map((n) => n.opType),
  };
}

describe('gru-onnx export --weights takes every source kind, detected from the file', () => {
  it('a tfjs-layers model directory: TensorFlow.js → ONNX in one command, no Python', async () => {
    const { tf } = await initTfjs('cpu');
    const m = tf.sequential({ layers: [tf.layers.gru({ units: 6, inputShape: [null, 4] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    await saveTfjsLayersModel(tf, m, join(dir, 'tfjs'));
    const r = await runCli(['export', '--weights', join(dir, 'tfjs'), '--out', join(dir, 'tfjs.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    const cpu = exported(join(dir, 'tfjs.onnx'));
    // auto for cpu: tfjs's GRU (linear_before_reset 0) runs the fused node at small batches, the scan at large.
    expect([cpu.source, cpu.target, cpu.form, cpu.ops.includes('GRU'), cpu.ops.includes('Scan')]).toEqual(['tfjs-layers', 'cpu', 'auto', true, true]);
    expect(r.stderr).toBe('');

    // For CUDA, auto writes the scan form (no cuDNN kernel for linear_before_reset 0): no warning, recorded as such.
    const cuda = await runCli(['export', '--weights', join(dir, 'tfjs'), '--out', join(dir, 'tfjs-cuda.onnx'), '--target', 'cuda']);
    expect(cuda.code, cuda.stderr).toBe(0);
    expect(cuda.stderr).toBe('');
    const onCuda = exported(join(dir, 'tfjs-cuda.onnx'));
    expect([onCuda.target, onCuda.form, onCuda.ops.includes('GRU')]).toEqual(['cuda', 'scan', false]);
    // --form fused for CUDA: a warning naming the node the CUDA EP leaves to the CPU EP.
    const fused = await runCli(['export', '--weights', join(dir, 'tfjs'), '--out', join(dir, 'tfjs-cuda-fused.onnx'), '--target', 'cuda', '--form', 'fused']);
    expect(fused.code, fused.stderr).toBe(0);
    expect(fused.stderr).toMatch(/^warning: --target cuda: onnxruntime's CUDA EP has no cuDNN kernel for GRU \S+ \(linear_before_reset 0 or non-default activations\); they will run on the CPU EP/);
  });

  it('a PyTorch nn.GRU state_dict', async () => {
    const r = await runCli(['export', '--weights', `${FIXTURES}pytorch/l2-bi-bf.safetensors`, '--head', 'final-state', '--out', join(dir, 'pt.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    expect(exported(join(dir, 'pt.onnx')).ops.filter((o) => o === 'GRU')).toHaveLength(2);
    // PyTorch's GRU (linear_before_reset 1) has a CUDA kernel: auto writes the fused nodes, and no warning.
    const cuda = await runCli(['export', '--weights', `${FIXTURES}pytorch/l2-bi-bf.safetensors`, '--head', 'final-state', '--out', join(dir, 'pt-cuda.onnx'), '--target', 'cuda']);
    expect(cuda.code, cuda.stderr).toBe(0);
    expect(cuda.stderr).not.toMatch(/warning/);
    expect(exported(join(dir, 'pt-cuda.onnx')).form).toBe('fused');
    // Every export option applies to an import: the scan form with PyTorch's state I/O.
    const io = await runCli(['export', '--weights', `${FIXTURES}pytorch/l2-bi-bf.safetensors`, '--head', 'final-state', '--out', join(dir, 'pt-io.onnx'), '--form', 'scan', '--h0', '--h-n', '--hidden-states', '--json']);
    expect(io.code, io.stderr).toBe(0);
    const summary = JSON.parse(io.stdout).summary;
    expect([summary.inputs, summary.outputs].map((vs: { name: string; dims: unknown[] }[]) => vs.map((v) => [v.name, v.dims]))).toEqual([
      [['x', ['batch', 'seq', 5]], ['h0', [4, 'batch', 7]]],
      [['logits', ['batch', 3]], ['hidden_states', ['batch', 'seq', 14]], ['h_n', [4, 'batch', 7]]],
    ]);
    expect(exported(join(dir, 'pt-io.onnx'))).toMatchObject({ form: 'scan', target: 'cpu' });
    expect(exported(join(dir, 'pt-io.onnx')).ops).not.toContain('GRU');
    // Every PyTorch import says which forward() it assumes, and that only a capture can confirm it.
    expect(cuda.stderr.trim().split('\n')).toEqual([
      'assumed forward (--head final-state): out, h_n = gru(x); logits = fc(cat(h_n[-2], h_n[-1])); batch_first=True',
      expect.stringMatching(/^note: a state_dict holds weights, not forward\(\); only a capture of your own module confirms this \(python\/gru_onnx_torch\.py capture/),
    ]);
  });

  it('--source overrides detection, and a wrong one is a one-line usage error (exit 2)', async () => {
    const r = await runCli(['export', '--weights', `${FIXTURES}seed-pytorch/model.safetensors`, '--source', 'pytorch-gru', '--out', join(dir, 'bad.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*model\.safetensors: no 'weight_ih_l0' tensor: not a PyTorch nn\.GRU, nn\.LSTM or nn\.RNN state_dict/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
