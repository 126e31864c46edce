import { describe, expect, it } from 'vitest';
import type { Placement } from '@gru-onnx/verify';
import { CELL_CASES, cellText, formatPlacement, inLoopBody, runPlacement, shortError, summarise, where, within } from './gpu-placement.ts';

const GPU = 'WebGpuExecutionProvider';
const CPU = 'CPUExecutionProvider';

describe('gpu-placement: reading where the work ran', () => {
  // The scan form as onnxruntime reports it: the step's MatMuls inside the Loop body (itself inside the empty-x If),
  // a projection hoisted out of the loop, and the head's Gemm.
  const scan: Placement[] = [
    { node: 'if_empty', opType: 'If', ep: CPU },
    { node: 'step_xw', opType: 'MatMul', ep: CPU, subgraph: 'if_empty.else_branch/loop_l0.body' },
    { node: 'step_hr', opType: 'MatMul', ep: GPU, subgraph: 'if_empty.else_branch/loop_l0.body' },
    { node: 'proj', opType: 'MatMul', ep: GPU, subgraph: 'if_empty.else_branch' },
    { node: 'head', opType: 'Gemm', ep: GPU },
  ];

  it('tells a loop body from an If branch', () => {
    expect(scan.map(inLoopBody)).toEqual([false, true, true, false, false]);
    expect(inLoopBody({ node: 'n', opType: 'MatMul', ep: GPU, subgraph: 'scan.body' })).toBe(true);
    expect(inLoopBody({ node: 'n', opType: 'MatMul', ep: GPU, subgraph: 'if.then_branch' })).toBe(false);
  });

  it('matches within atol + rtol·|expected|, element by element', () => {
    const tol = { atol: 1e-6, rtol: 1e-3 };
    expect(within([1.0009, -2], [1, -2], tol)).toBe(true);
    expect(within([1.0011, -2], [1, -2], tol)).toBe(false);
    expect(within([0, 2e-6], [0, 0], tol)).toBe(false);
    expect(within([NaN], [0], tol)).toBe(false);
    expect(within([1], [1, 2], tol)).toBe(false);
  });

  it('says GPU, CPU, mixed, or — for none', () => {
    const isGpu = (ep: string) => ep === GPU;
    expect(where(scan, isGpu, (p) => p.opType === 'Gemm')).toBe('GPU');
    expect(where(scan, isGpu, (p) => p.opType === 'If')).toBe('CPU');
    expect(where(scan, isGpu, inLoopBody)).toBe('mixed');
    expect(where(scan, isGpu, (p) => p.opType === 'LSTM')).toBe('—');
  });

  it('summarises a run: partial when a compute op ran off the GPU, with what ran where', () => {
    const r = summarise('browser-webgpu', 'lstm', 'scan', scan, 'scan', 3e-7);
    expect(r).toMatchObject({ recurrent: '—', loopBody: 'mixed', other: 'GPU', offGpu: { If: 1, MatMul: 1 } });
    expect(r.partial).toMatch(/MatMul step_xw ran on CPUExecutionProvider/);
    expect(cellText(r)).toBe('partial: loop mixed, head etc. GPU, Δ 3e-7');
    const fused = summarise('browser-webgpu-jsep', 'lstm', 'auto', [{ node: 'lstm_l0', opType: 'LSTM', ep: 'JsExecutionProvider' }, { node: 'head', opType: 'Gemm', ep: 'JsExecutionProvider' }], 'fused', 0);
    expect(fused.partial).toBeUndefined();
    expect(cellText(fused)).toBe('**GPU** (built fused): node GPU, head etc. GPU, Δ 0e+0');
    const wrong = summarise('browser-webgpu-jsep', 'rnn-tanh', 'scan', [{ node: 'step', opType: 'MatMul', ep: 'JsExecutionProvider', subgraph: 'loop_l1.body' }], 'scan', 2.2, false);
    expect(cellText(wrong)).toBe('**WRONG**: loop GPU, Δ 2e+0');
    const cuda = summarise('ort-cuda', 'gru-lbr0', 'fused', [{ node: 'gru_l0', opType: 'GRU', ep: CPU }, { node: 'head', opType: 'Gemm', ep: 'CUDAExecutionProvider' }], 'fused', 0);
    expect(cellText(cuda)).toMatch(/^partial: node CPU, head etc. GPU/);
  });
});

describe('gpu-placement: the table', () => {
  it('says why a backend is missing, and marks a model it did not run', () => {
    const cases = CELL_CASES.slice(0, 1);
    const md = formatPlacement(
      { date: '2026-11-29T00:00:00Z', backends: { 'ort-cuda': { unavailable: 'libcublasLt.so.13: cannot open shared object file' }, 'browser-webgpu': { versions: { 'onnxruntime-web': '1.30.0' }, settings: { webgpuAdapter: 'google / swiftshader' } } }, results: [] },
      cases,
      ['fused'],
    );
    expect(md).toContain('### ort-cuda\n\nUnavailable: libcublasLt.so.13: cannot open shared object file');
    expect(md).toContain('2026-11-29; onnxruntime-web 1.30.0; adapter: google / swiftshader.');
    expect(md).toContain(`| ${cases[0]!.label} | not run |`);
  });
});

describe('gpu-placement: errors', () => {
  it("keeps onnxruntime's message and drops its source path and signature", () => {
    const msg =
      'browser-webgpu: page.evaluate: Error: failed to call OrtRun(). ERROR_CODE: 1, ERROR_MESSAGE: /mnt/azure_nvme_temp/_work/1/s/onnxruntime/core/providers/webgpu/rnn/lstm.cc:28 ' +
      'std::string onnxruntime::webgpu::(anonymous namespace)::ActivationToWgslFn(const std::string &) Unsupported LSTM activation for WebGPU: HardSigmoid';
    expect(shortError(msg)).toBe('Unsupported LSTM activation for WebGPU: HardSigmoid');
    expect(cellText({ backend: 'browser-webgpu', case: 'lstm-hardsigmoid', form: 'fused', error: msg })).toBe('error: Unsupported LSTM activation for WebGPU: HardSigmoid');
    expect(shortError('export: something plain')).toBe('export: something plain');
    expect(shortError('x'.repeat(200))).toHaveLength(120);
  });
});

describe('gpu-placement on the native WebGPU EP (headless Chromium, software adapter)', () => {
  it('exports a cell, runs it on the EP and on onnxruntime-node CPU, and reads the placements', async () => {
    const cases = CELL_CASES.filter((c) => c.id === 'rnn-relu');
    const run = await runPlacement({ backends: ['browser-webgpu'], cases, forms: ['fused'], timeoutMs: 60_000, log: () => {} });
    const info = run.backends['browser-webgpu']!;
    if (info.unavailable) throw new Error(`browser-webgpu unavailable: ${info.unavailable}`);
    expect(String(info.settings?.webgpuAdapter)).toMatch(/swiftshader/i);
    const [r] = run.results;
    expect(r).toMatchObject({ backend: 'browser-webgpu', case: 'rnn-relu', form: 'fused', built: 'fused' });
    expect(r!.error).toBeUndefined();
    expect(r!.recurrent).not.toBe('—');
    expect(r!.maxAbsVsCpu).toBeLessThan(1e-5);
    expect(r!.matchesCpu).toBe(true);
    expect(formatPlacement(run, cases, ['fused'])).toContain(`| ${cases[0]!.label} | ${cellText(r!)} |`);
  });
});
