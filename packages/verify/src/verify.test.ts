import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SEED_CONFIG, UserError } from '@gru-onnx/model';
import { fakeParams, fakeRunner, signatureOnlyModel } from './fake-runner.ts';
import { deterministicView, reportToJson } from './report.ts';
import { consoleTable, markdownReport } from './report-text.ts';
import { verifyModel } from './verify.ts';
import type { CaseEvent, VerifyOptions } from './verify.ts';
import { float32Data } from './tensor.ts';
import { parseDecision } from './compare/decisions.ts';
import type { Runner } from './runner.ts';

const params = fakeParams(SEED_CONFIG, 3);
const model = signatureOnlyModel(SEED_CONFIG);
const shapes = [{ batch: 1, seq: 1 }, { batch: 3, seq: 10 }];
const base = (o: Partial<VerifyOptions>): VerifyOptions => ({ model, params, shapes, seed: 5, ...o });

describe('verifyModel', () => {
  it('passes matching backends with exit 0, reports every case and is deterministic apart from timings', async () => {
    const events: CaseEvent[] = [];
    const run = () => verifyModel(base({ runners: [fakeRunner('reference'), fakeRunner('ort-cpu')], onCase: (e) => events.push(e) }));
    const r = await run();
    expect(r.summary).toMatchObject({ status: 'pass', exitCode: 0 });
    expect(r.backends.map((b) => b.status)).toEqual(['pass', 'pass']);
    expect(r.cases.map((c) => c.id)).toEqual(['1x1', '3x10', 'zeros 3x64', 'saturating 3x64']);
    expect(r.input.seed).toBe(5);
    expect(events).toHaveLength(8);
    expect(events[0]).toMatchObject({ backend: 'reference', caseId: '1x1', index: 1, total: 4, status: 'pass' });
    const cpu = r.backends[1]!;
    expect(cpu.cases[1]!.outputs.map((o) => o.output)).toEqual(['logits', 'hidden_states', 'h_n']);
    expect(cpu.cases[1]!.steps!.perStepMaxAbs).toHaveLength(10);
    expect(cpu.maxAbs).toBeLessThan(1e-6);
    const again = await run();
    expect(JSON.stringify(deterministicView(again))).toBe(JSON.stringify(deterministicView(r)));
    expect(reportToJson(r)).toContain('"generatedAt"');
  });

  it('fails a planted error and names the first divergence (batch, step, unit) with both values', async () => {
    const wrong = fakeRunner('ort-cpu', {
      perturb: (out) => {
        const hs = out.hidden_states!;
        const [, T, H] = hs.dims as [number, number, number];
        if (hs.dims[0]! < 3 || T < 10) return;
        float32Data(hs)[(2 * T + 4) * H + 7]! += 1e-3; // batch 2, step 4, unit 7
      },
    });
    const r = await verifyModel(base({ runners: [fakeRunner('reference'), wrong], edgeCases: false }));
    const b = r.backends[1]!;
    expect(b.status).toBe('fail');
    expect(r.backends[0]!.status).toBe('pass');
    expect(r.summary.exitCode).toBe(1);
    expect(b.cases[1]!.steps!.firstDivergence).toMatchObject({ batch: 2, step: 4, unit: 7 });
    expect(b.reason).toMatch(/1\/2 cases fail; 3x10: hidden_states: 1\/480 elements outside tolerance; first at \[2, 4, 7\].*batch 2, step 4, unit 7/);
    expect(consoleTable(r)).toMatch(/ort-cpu\s+fail\s+1\.00e-3/);
    expect(markdownReport(r)).toContain('- ort-cpu, 3x10: batch 2, step 4, unit 7');
  });

  it('reports an unavailable backend with its reason; --require turns it into exit 3', async () => {
    const runners = () => [fakeRunner('reference'), fakeRunner('ort-cuda', { unavailable: 'no CUDA provider library' })];
    const r = await verifyModel(base({ runners: runners() }));
    expect(r.backends[1]).toMatchObject({ status: 'unavailable', reason: 'no CUDA provider library' });
    expect(r.summary.exitCode).toBe(0);
    const req = await verifyModel(base({ runners: runners(), require: ['ort-cuda'] }));
    expect(req.summary.exitCode).toBe(3);
    expect(req.summary.message).toMatch(/ort-cuda \(no CUDA provider library\)/);
    const notRun = await verifyModel(base({ runners: [fakeRunner('reference')], require: ['browser-wasm'] }));
    expect(notRun.summary.exitCode).toBe(3);
    const none = await verifyModel(base({ runners: [fakeRunner('tfjs', { unavailable: 'x' })] }));
    expect(none.summary).toMatchObject({ exitCode: 3, message: 'no backend was available' });
  });

  it('turns an exception into error while the other backends still report, and closes every runner', async () => {
    const boom = fakeRunner('ort-wasm', { throws: 'wasm: out of memory\n    at stack' });
    const ok = fakeRunner('ort-cpu');
    const r = await verifyModel(base({ runners: [boom, ok] }));
    expect(r.backends[0]).toMatchObject({ status: 'error', reason: '1x1: wasm: out of memory' });
    expect(r.backends[1]!.status).toBe('pass');
    expect(r.summary.exitCode).toBe(1);
    expect(boom.closed).toBe(1);
    expect(ok.closed).toBe(1);
  });

  it('times out a stuck backend as error, skips its remaining cases, and the others still report', async () => {
    const stuck = fakeRunner('browser-wasm', { hang: true });
    const t0 = Date.now();
    const r = await verifyModel(base({ runners: [stuck, fakeRunner('ort-cpu')], timeoutMs: 300 }));
    expect(Date.now() - t0).toBeLessThan(5000);
    const b = r.backends[0]!;
    expect(b.status).toBe('error');
    expect(b.reason).toMatch(/^1x1: run timed out: no answer within 300 ms$/);
    expect(b.cases.slice(1).every((c) => c.status === 'skipped')).toBe(true);
    expect(r.backends[1]!.status).toBe('pass');
    expect(stuck.closed).toBe(1);
  });

  it('runs the browser backends beside the others: a stuck browser run does not hold up ort-cpu, and the report keeps the requested order', async () => {
    const stuck = fakeRunner('browser-webgpu', { hang: true });
    const order: string[] = [];
    const r = await verifyModel(base({ runners: [stuck, fakeRunner('ort-cpu')], timeoutMs: 1000, onBackend: (b) => order.push(b.name) }));
    // Run one after another, ort-cpu would finish after the browser backend's timeout.
    expect(order).toEqual(['ort-cpu', 'browser-webgpu']);
    expect(r.backends.map((b) => `${b.name} ${b.status}`)).toEqual(['browser-webgpu error', 'ort-cpu pass']);
  });

  it('runs each browser backend in a lane of its own, all at once: a stuck one holds up no other', async () => {
    const stuck = fakeRunner('browser-webgpu', { hang: true });
    const order: string[] = [];
    const r = await verifyModel(base({ runners: [stuck, fakeRunner('browser-wasm'), fakeRunner('browser-webgpu-jsep')], timeoutMs: 1000, onBackend: (b) => order.push(b.name) }));
    // In one lane, the two after the stuck one would wait out its timeout and report after it.
    expect(order).toEqual(['browser-wasm', 'browser-webgpu-jsep', 'browser-webgpu']);
    expect(r.backends.map((b) => `${b.name} ${b.status}`)).toEqual(['browser-webgpu error', 'browser-wasm pass', 'browser-webgpu-jsep partial']);
  });

  it('with a browser lane, runs the in-process backends (reference, tfjs) after the onnxruntime ones, which leave the event loop free for it; the report keeps the requested order', async () => {
    const names = ['reference', 'tfjs', 'ort-cpu', 'ort-wasm'] as const;
    const mainOrder = async (browser: boolean): Promise<string[]> => {
      const order: string[] = [];
      const r = await verifyModel(base({ runners: [...names.map((n) => fakeRunner(n)), ...(browser ? [fakeRunner('browser-wasm')] : [])], onBackend: (b) => order.push(b.name) }));
      expect(r.backends.map((b) => `${b.name} ${b.status}`)).toEqual([...names, ...(browser ? ['browser-wasm'] : [])].map((n) => `${n} pass`));
      return order.filter((n) => !n.startsWith('browser-'));
    };
    expect(await mainOrder(true)).toEqual(['ort-cpu', 'ort-wasm', 'reference', 'tfjs']);
    // Without one there is nothing to keep free: the order asked.
    expect(await mainOrder(false)).toEqual([...names]);
  });

  it('stops on the caller\'s signal (SIGINT): the current run is abandoned, later backends are not started, every runner is closed', async () => {
    const ac = new AbortController();
    const stuck = fakeRunner('ort-cpu', { hang: true });
    // The same lane as the stuck one, so it is still waiting its turn when the signal comes.
    const later = fakeRunner('ort-wasm');
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const r = await verifyModel(base({ runners: [stuck, later], signal: ac.signal, timeoutMs: 60_000 }));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.backends[0]).toMatchObject({ status: 'error', reason: '1x1: run interrupted' });
    expect(r.backends[1]).toMatchObject({ status: 'error', reason: 'interrupted' });
    expect([stuck.closed, later.closed]).toEqual([1, 0]);
  });

  it('reports browser-webgpu as partial when GRU ran on the CPU EP, naming the op; exit 1 only if required', async () => {
    const placements = [
      { node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider' },
      { node: 'head', opType: 'Gemm', ep: 'WebGpuExecutionProvider' },
    ];
    const r = await verifyModel(base({ runners: [fakeRunner('browser-webgpu', { placements })] }));
    const b = r.backends[0]!;
    expect(b.status).toBe('partial');
    expect(b.reason).toMatch(/GRU gru ran on CPUExecutionProvider/);
    expect(b.fallbackNodes).toEqual([placements[0]]);
    expect(r.summary.exitCode).toBe(0);
    const req = await verifyModel(base({ runners: [fakeRunner('browser-webgpu', { placements })], require: ['browser-webgpu'] }));
    expect(req.summary.exitCode).toBe(1);
    const onGpu = await verifyModel(base({ runners: [fakeRunner('browser-webgpu', { placements: [{ ...placements[0]!, ep: 'WebGpuExecutionProvider' }] })] }));
    expect(onGpu.backends[0]!.status).toBe('pass');
    const silent = await verifyModel(base({ runners: [fakeRunner('browser-webgpu')] }));
    expect(silent.backends[0]!.status).toBe('partial');
  });

  it('reports ort-cuda as partial when the fused GRU fell back to the CPU EP (placements seen on an H100)', async () => {
    // docs/cuda/h100/verify-fused.json: onnxruntime 1.29's CUDA EP has no GRU kernel for linear_before_reset = 0.
    const seen = JSON.parse(readFileSync(new URL('../../../docs/cuda/h100/verify-fused.json', import.meta.url), 'utf8')) as {
      backends: { name: string; placements: { node: string; opType: string; ep: string }[] }[];
    };
    const placements = seen.backends.find((b) => b.name === 'ort-cuda')!.placements;
    const r = await verifyModel(base({ runners: [fakeRunner('ort-cuda', { placements })], require: ['ort-cuda'] }));
    expect(r.backends[0]!.status).toBe('partial');
    expect(r.backends[0]!.reason).toMatch(/not a CUDA result: GRU \S+ ran on CPUExecutionProvider/);
    expect(r.summary.exitCode).toBe(1);
    const onGpu = placements.map((p) => ({ ...p, ep: 'CUDAExecutionProvider' }));
    const ok = await verifyModel(base({ runners: [fakeRunner('ort-cuda', { placements: onGpu })], require: ['ort-cuda'] }));
    expect(ok.backends[0]!.status).toBe('pass');
  });

  it('fails wrong shapes and NaN outputs without throwing', async () => {
    const shape = fakeRunner('ort-cpu', { perturb: (out) => void (out.logits = { dims: [1, 1], data: new Float32Array(1) }) });
    const nan = fakeRunner('ort-wasm', { perturb: (out) => void (out.h_n!.data[0] = Number.NaN) });
    const r = await verifyModel(base({ runners: [shape, nan], edgeCases: false }));
    expect(r.backends[0]!.status).toBe('fail');
    expect(r.backends[0]!.reason).toMatch(/output logits: shape \[1, 1\], expected \[1, 4\]/);
    expect(r.backends[1]!.reason).toMatch(/1 NaN\/Inf mismatches/);
    expect(JSON.stringify(r)).toContain('"actual":"NaN"');
  });

  it('applies per-backend tolerances and the --atol override', async () => {
    const off = () => fakeRunner('ort-cpu', { perturb: (out) => void (float32Data(out.logits!)[0]! += 5e-5) });
    expect((await verifyModel(base({ runners: [off()] }))).summary.exitCode).toBe(1);
    const loose = await verifyModel(base({ runners: [off()], override: { atol: 1e-4 } }));
    expect(loose.summary.exitCode).toBe(0);
    expect(loose.backends[0]!.tolerance).toMatchObject({ atol: 1e-4, source: 'command line' });
  });

  it('resolves runner names through the factory', async () => {
    const r = await verifyModel(base({ runners: ['ort-cpu'], createRunner: (n) => fakeRunner(n) }));
    expect(r.backends[0]).toMatchObject({ name: 'ort-cpu', status: 'pass' });
  });

  it('rejects bad input before any backend runs', async () => {
    const never = fakeRunner('ort-cpu', { throws: 'must not run' });
    await expect(verifyModel({ model, runners: [never] })).rejects.toThrow(/no inputs: give the original weights, a bundle, or cases/);
    await expect(verifyModel(base({ model: Uint8Array.of(1, 2, 3), runners: [never] }))).rejects.toThrow(UserError);
    const x = new Float32Array(8).fill(Number.POSITIVE_INFINITY);
    await expect(verifyModel(base({ runners: [never], cases: [{ id: 'mine', kind: 'user', feeds: { x: { dims: [1, 1, 8], data: x } } }] }))).rejects.toThrow('case mine: input x: Infinity at [0, 0, 0]');
    expect(never.closed).toBe(0);
  });

  it('an argmax flip fails the run even when every value is within tolerance, unless the expected top two are within tolerance of each other', async () => {
    const logitsModel = signatureOnlyModel(SEED_CONFIG, { outputs: ['logits'] });
    const x = { dims: [1, 1, SEED_CONFIG.inputSize], data: new Float32Array(SEED_CONFIG.inputSize) };
    // ort-cpu's tolerance is 1e-5 + 1e-5·|e|: each value below is 1.5e-5 from the expected one (inside), but the
    // expected top two differ by 3e-5 (outside), so the tie the backend returns flips the decision for real.
    const expected = [1, 1.00003, 0, 0];
    const answer = (logits: number[]): Runner => ({
      name: 'ort-cpu',
      probe: async () => ({ available: true, versions: {}, settings: {} }),
      run: async () => ({ outputs: { logits: { dims: [1, 4], data: Float32Array.from(logits) } }, placements: [], settings: {} }),
      close: async () => undefined,
    });
    const bundle = { model: logitsModel, cases: [{ name: 'set', inputs: { x }, outputs: { logits: { dims: [1, 4], data: Float64Array.from(expected) } } }] };
    const run = (logits: number[], exp = expected) =>
      verifyModel({ bundle: { ...bundle, cases: [{ ...bundle.cases[0]!, outputs: { logits: { dims: [1, 4], data: Float64Array.from(exp) } } }] }, runners: [answer(logits)], decisions: [parseDecision('argmax(logits)')] });
    const flip = await run([1.000015, 1.000015, 0, 0]);
    expect(flip.backends[0]!.cases[0]!.outputs[0]!.status).toBe('pass');
    expect(flip.backends[0]!.cases[0]!.decisions![0]).toMatchObject({ flips: 1, borderline: 0 });
    expect(flip.summary.exitCode).toBe(1);
    // Expected top two 1.5e-5 apart: within tolerance of each other, so the same flip is borderline and passes.
    const near = await run([1.0000075, 1.0000075, 0, 0], [1, 1.000015, 0, 0]);
    expect(near.backends[0]!.cases[0]!.decisions![0]).toMatchObject({ flips: 1, borderline: 1 });
    expect(near.summary.exitCode).toBe(0);
  });
});
