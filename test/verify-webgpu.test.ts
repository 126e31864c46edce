/**
 * Both WebGPU implementations of onnxruntime-web 1.30 as backends, on a model gru-onnx did not write (PyTorch's
 * LSTM export, fixtures/any-models/lstm): browser-webgpu (native EP, onnxruntime-web/webgpu) and
 * browser-webgpu-jsep (the default bundle's JSEP). The adapter is recorded and a software one is called software.
 * Needs Chromium (.ci/run installs it). Untested here: a hardware adapter (no GPU machine was available).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '@gru-onnx/verify';
import { runCli } from './cli-helpers.ts';

const LSTM = join('fixtures', 'any-models', 'lstm');

describe('browser-webgpu and browser-webgpu-jsep on a PyTorch LSTM', () => {
  /** The adapter kind `auto` found, for the hardware check below. */
  let autoKind: unknown;

  it("each runs it against PyTorch's outputs; the CPU fallback is counted per op type, and JSEP's LSTM on the CPU makes it partial", async () => {
    const r = await runCli(['verify', '--bundle', LSTM, '--backends', 'browser-webgpu,browser-webgpu-jsep', '--json']);
    const rep = JSON.parse(r.stdout) as Report;
    const [native, jsep] = rep.backends;
    expect(native!.settings.implementation).toBe('native WebGPU EP (onnxruntime-web/webgpu)');
    expect(jsep!.settings.implementation).toBe('JSEP (onnxruntime-web, default bundle)');
    for (const b of [native!, jsep!]) {
      expect(b.cases.every((c) => c.outputs.every((o) => o.status === 'pass'))).toBe(true);
      expect(['software', 'hardware']).toContain(b.settings.webgpuAdapterKind);
      expect(b.settings.webgpuAdapterMode).toBe('auto');
      expect(String(b.settings.webgpuAdapter)).toBe([b.settings.webgpuAdapterVendor, b.settings.webgpuAdapterArchitecture, b.settings.webgpuAdapterDescription].filter(Boolean).join(' / '));
    }
    // Measured with onnxruntime-web 1.30: the native EP runs the LSTM node on the GPU, JSEP hands it to the CPU.
    expect(native!.placements.find((p) => p.opType === 'LSTM')!.ep).toBe('WebGpuExecutionProvider');
    expect(native!.status).toBe('pass');
    expect(jsep!.fallbackByOpType!.LSTM).toBe(1);
    expect(jsep!.status).toBe('partial');
    expect(jsep!.reason).toMatch(/not a WebGPU \(JSEP\) result: LSTM \S+ ran on CPUExecutionProvider/);
    // Shape plumbing on the CPU is listed too, but does not make a result partial.
    expect(native!.fallbackByOpType).toMatchObject({ ConstantOfShape: 1 });
    autoKind = native!.settings.webgpuAdapterKind;
  }, 180_000);

  it('--webgpu-adapter hardware on a machine whose only adapter is software: unavailable, saying so (exit 3)', async () => {
    const kind = autoKind;
    const hw = await runCli(['verify', '--bundle', LSTM, '--backends', 'browser-webgpu', '--webgpu-adapter', 'hardware', '--json']);
    const rep = JSON.parse(hw.stdout) as Report;
    if (kind === 'software') {
      expect(rep.backends[0]!.status).toBe('unavailable');
      expect(rep.backends[0]!.reason).toMatch(/no hardware WebGPU adapter|adapter here is software/);
      expect(hw.code).toBe(3);
    } else {
      expect(rep.backends[0]!.settings.webgpuAdapterKind).toBe('hardware');
    }
    const sw = JSON.parse((await runCli(['verify', '--bundle', LSTM, '--backends', 'browser-webgpu', '--webgpu-adapter', 'software', '--json'])).stdout) as Report;
    expect(sw.backends[0]!.settings).toMatchObject({ webgpuAdapterKind: 'software', webgpuAdapterMode: 'software', webgpuAdapterArchitecture: 'swiftshader' });
  }, 180_000);
});
