import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Ajv } from 'ajv';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle.ts';
import { createRunner } from '../registry.ts';
import type { Feeds, Runner } from '../runner.ts';
import { defaultTolerances } from '../tolerances.ts';
import { localize } from './localize.ts';
import type { LocalizeOptions } from './localize.ts';
import { nodeCorruptingRunner, plantedModel, statefulModel } from './planted.ts';
import { verifyModel } from '../verify.ts';
import { decodeModelBytes, exportSeedModel } from '@gru-onnx/onnx';
import { SEED_CONFIG } from '@gru-onnx/model';
import { fakeParams } from '../fake-runner.ts';
import { consoleTable, markdownReport } from '../report-text.ts';
import { htmlReport } from '../report-html.ts';

const schema = JSON.parse(readFileSync(new URL('../../../../docs/report-schema.json', import.meta.url), 'utf8')) as object;

const cpu = createRunner('ort-cpu');
const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-localize-'));
afterAll(async () => {
  await cpu.close();
  rmSync(dir, { recursive: true, force: true });
});

const model = plantedModel();
const feeds: Feeds = { x: { dims: [2, 3], data: Float32Array.from([0.3, -0.2, 0.9, 0.4, 1.5, -0.6]) } };
const run: LocalizeOptions['run'] = async (r: Runner, m, f, outputNames) => r.run({ model: m, feeds: f, outputNames });
const tolerance = defaultTolerances()['ort-wasm'];

describe('localize (planted faults on ort-cpu, by node name)', () => {
  it.each([
    ['act', 'main graph', undefined],
    ['then_add', "If 'branch' then_branch", undefined],
    ['body_add', "Loop 'loop' body", 0],
  ] as const)('names %s exactly, where it sits, and its repro reproduces alone', async (name, where, iteration) => {
    const target = nodeCorruptingRunner(cpu, name, 0.05);
    const out = join(dir, name);
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target, tolerance, reportDir: out, run });
    expect(r.result).toBe('node');
    expect(r.node?.name).toBe(name);
    expect(r.node?.where).toBe(where);
    expect(r.node?.iteration).toBe(iteration);
    expect(r.node?.outputs[0]?.maxAbs).toBeCloseTo(0.05, 5);
    expect(r.repro?.verdict).toBe('reproduces alone');
    // The bundle replays: its model has one node, fed the baseline's values.
    const b = loadBundle(join(out, 'repro-ort-wasm'));
    expect(b.cases).toHaveLength(1);
    expect(Object.keys(b.cases[0]!.outputs)).toEqual(r.node?.outputs.map((o) => o.name));
    // One instrumented run for the main graph, one per If inlined or body exposed.
    expect(r.instrumentedRuns).toBe(name === 'act' ? 1 : 2);
  });

  it('a fault that needs its context (absent when the node runs alone) is named, and said not to reproduce alone', async () => {
    const faulty = nodeCorruptingRunner(cpu, 'act', 0.05);
    // Like a fusion bug: the fault appears only when the node runs inside the larger graph.
    const target: Runner = { ...faulty, name: 'ort-wasm', run: (job, signal) => ((decodeModelBytes(job.model).graph?.node?.length ?? 0) > 1 ? faulty : cpu).run(job, signal) };
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target, tolerance, run });
    expect(r.node?.name).toBe('act');
    expect(r.repro?.verdict).toBe('does not reproduce alone');
    expect(r.repro?.tried).toMatch(/^Tanh 'act' alone \(model.onnx, 1 fed input\(s\), 0 initializer\(s\)\) on ort-wasm and ort-cpu, fed ort-cpu's input values$/);
  });

  /**
   * A fault like JSEP's in a scan chain: it shows only when the graph exposes few values (onnxruntime plans buffers
   * and fusions from the outputs), and not at all while any value in `hiders` is a graph output.
   */
  const hiddenByExposure = (hiders: string[], most = 2, node = 'act'): Runner => {
    const faulty = nodeCorruptingRunner(cpu, node, 0.05);
    return {
      ...faulty,
      run: (job, signal) => {
        const outputs = (decodeModelBytes(job.model).graph?.output ?? []).map((v) => v.name ?? '');
        return (outputs.length <= most && !outputs.some((v) => hiders.includes(v)) ? faulty : cpu).run(job, signal);
      },
    };
  };

  it('a fault that exposing every value at once hides is found one value at a time', async () => {
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: hiddenByExposure([]), tolerance, run });
    expect(r.result).toBe('node');
    expect(r.node).toMatchObject({ name: 'act', where: 'main graph' });
    expect(r.node?.outputs[0]?.maxAbs).toBeCloseTo(0.05, 5);
    expect(r.message).toMatch(/found exposing one value at a time, because exposing all at once hid the fault$/);
    // All at once, then 'a' (matches), then 'b' (out of tolerance).
    expect(r.instrumentedRuns).toBe(3);
    expect(r.repro?.verdict).toBe('reproduces alone');
  });

  it('one value at a time, when every intermediate matches on its own while an output fails, names the output\'s node, the values that hide the fault, and which of its inputs could not be checked', async () => {
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: hiddenByExposure(['zero'], 2, 'head'), tolerance, run });
    expect(r.result).toBe('node');
    expect(r.node).toMatchObject({ name: 'head', where: 'main graph' });
    // All at once, then each of the eight intermediates (a, b, s, zero, cond, y1, trips, h) alone.
    expect(r.instrumentedRuns).toBe(9);
    expect(r.message).toMatch(/because exposing all at once hid the fault \(as exposing 'zero' alone does\)$/);
    const hidden = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: hiddenByExposure(['h'], 2, 'head'), tolerance, run });
    expect(hidden.node?.name).toBe('head');
    expect(hidden.message).toMatch(/its input 'h' could not be checked \(exposing it hides the fault\), so the fault may lie before this node$/);
  });

  it('a fault that every exposure hides is masked, and the message names the values tried that hide it', async () => {
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: hiddenByExposure([], 1), tolerance, run });
    expect(r.result).toBe('masked');
    expect(r.node).toBeUndefined();
    expect(r.message).toMatch(/with every value exposed at once and with each exposed alone.*exposing any of 'a', 'b', 's', 'zero', 'cond', 'y1', 'trips', 'h' alone hides it too/);
  });

  it('a fault inside tolerance names no node', async () => {
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: nodeCorruptingRunner(cpu, 'act', tolerance.atol / 10), tolerance, run });
    expect(r.result).toBe('masked');
    expect(r.node).toBeUndefined();
  });
});

describe('verify --localize (verifyModel)', () => {
  it('names the Loop body node, its iteration and execution provider, and writes repro-ort-wasm/ that reproduces', async () => {
    const out = join(dir, 'verify');
    const r = await verifyModel({
      model,
      cases: [{ id: 'set 0', kind: 'signature', feeds }],
      baseline: 'ort-cpu',
      runners: [createRunner('ort-cpu'), nodeCorruptingRunner(createRunner('ort-cpu'), 'body_mul', 0.01)],
      localize: { dir: out },
    });
    const b = r.backends.find((x) => x.name === 'ort-wasm')!;
    expect(b.status).toBe('fail');
    expect(b.localization?.node).toMatchObject({ name: 'body_mul', opType: 'Mul', where: "Loop 'loop' body", iteration: 0 });
    expect(b.localization?.node?.inputs.map((i) => [i.name, i.constant])).toEqual([['h_in', false], ['half', true]]);
    expect(b.localization?.repro?.verdict).toBe('reproduces alone');
    expect(b.localization?.node?.executionProvider).toBe('CPUExecutionProvider');
    expect(existsSync(join(out, 'repro-ort-wasm', 'model.onnx'))).toBe(true);
    expect(existsSync(join(out, 'repro-ort-wasm', 'test_data_set_0', 'input_0.pb'))).toBe(true);
    // Every report format says the same: the node, its place and iteration, inputs, attributes, errors, runs.
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/ } });
    const validate = ajv.compile(schema);
    expect(validate(JSON.parse(JSON.stringify(r))), ajv.errorsText(validate.errors)).toBe(true);
    for (const text of [consoleTable(r), markdownReport(r), htmlReport(r)]) {
      expect(text).toContain("node: 'body_mul' Mul (domain ai.onnx) in Loop 'loop' body, iteration 0; execution provider on ort-wasm: CPUExecutionProvider");
      expect(text).toContain('inputs: h_in float32 [2, 3]; half float32 [] (constant)');
      expect(text).toMatch(/outputs: hm float32 \[2, 3\] fail, max abs 1\.\d\de-2/);
      expect(text).toContain('repro: reproduces alone');
      expect(text).toContain('instrumented runs: 2 per backend');
    }
  });

  it('localizes a backend that errs on one case and fails on another, on the failing one', async () => {
    const faulty = nodeCorruptingRunner(createRunner('ort-cpu'), 'act', 0.05);
    // Like JSEP on an empty batch: one case throws, the others run and are wrong.
    const target: Runner = { ...faulty, run: (job, signal) => ((job.feeds.x?.data as Float32Array | undefined)?.[0] === 0 ? Promise.reject(new Error('invalid shape specified')) : faulty.run(job, signal)) };
    const r = await verifyModel({
      model,
      cases: [{ id: 'zeros', kind: 'signature', feeds: { x: { dims: [2, 3], data: new Float32Array(6) } } }, { id: 'set 0', kind: 'signature', feeds }],
      baseline: 'ort-cpu',
      runners: [createRunner('ort-cpu'), target],
      localize: {},
    });
    const b = r.backends.find((x) => x.name === 'ort-wasm')!;
    expect(b.status).toBe('error');
    expect(b.localization, b.localization?.message).toMatchObject({ result: 'node', case: 'set 0', node: { name: 'act' } });
  });

  it('is not attempted against a baseline that itself fails (a bundle whose stored outputs neither backend matches)', async () => {
    const y = { dims: [2, 3], data: new Float32Array(6).fill(7) };
    const r = await verifyModel({
      bundle: { model, cases: [{ name: 'set 0', inputs: feeds, outputs: { y } }] },
      runners: [createRunner('ort-cpu'), nodeCorruptingRunner(createRunner('ort-cpu'), 'act', 0.05)],
      localize: {},
    });
    expect(r.backends.map((b) => b.status)).toEqual(['fail', 'fail']);
    expect(r.backends[0]!.localization?.message).toMatch(/^not localized: ort-cpu is the backend intermediate values are compared with/);
    expect(r.backends[1]!.localization).toMatchObject({ result: 'error', message: 'not localized: ort-cpu, whose intermediate values are the yardstick, itself fails against the expected values' });
  });

  // A fault of 0.6·atol per step: no node leaves tolerance on the same inputs, the carried state does by step 1.
  it.each([
    [6e-4, 'accumulation', undefined, 1],
    [3e-3, 'node', 'mix', 0],
  ] as const)('a stateful run with a fault of %s per step: %s', async (delta, result, node, step) => {
    const x = (v: number) => ({ dims: [1, 3], data: Float32Array.from([v, -v, 2 * v]) });
    const r = await verifyModel({
      model: statefulModel(),
      cases: [{ id: 'set 0', kind: 'signature', feeds: { x: x(0.1), h: x(0) }, stepFeeds: [{ x: x(0.1), h: x(0) }, { x: x(0.2) }, { x: x(0.3) }] }],
      baseline: 'ort-cpu',
      carry: [['h_out', 'h']],
      override: { atol: 1e-3, rtol: 0 },
      runners: [createRunner('ort-cpu'), nodeCorruptingRunner(createRunner('ort-cpu'), 'mix', delta)],
      localize: {},
    });
    const l = r.backends.find((b) => b.name === 'ort-wasm')!.localization!;
    expect(l.result).toBe(result);
    expect(l.step).toBe(step);
    expect(l.node?.name).toBe(node);
    if (result === 'accumulation') expect(l.message).toMatch(/^accumulation: no single node leaves tolerance/);
  });
});

// The exporter's own graphs: a Scan body under an If branch, and a Loop body under two nested Ifs (form auto).
describe('verify --localize on exported seed models (expected: the reference; intermediates: ort-cpu)', () => {
  const params = fakeParams(SEED_CONFIG, 3);
  it.each([
    ['scan', 'body_Tanh_h_tilde', /^If 'If_h_n' else_branch > Scan 'steps_Scan_steps_h_T' body$/],
    ['auto', 'body_Add_h_next', /^If 'If_h_n' (then|else)_branch > If 'scan_If_scan_h_T' else_branch > Loop 'scan_steps_Loop_scan_steps_h_T' body$/],
  ] as const)('form %s: a fault in %s is named in its nested body at iteration 0', async (form, name, where) => {
    const r = await verifyModel({
      model: exportSeedModel(params, { form, hiddenStates: true }),
      params,
      shapes: [{ batch: 200, seq: 4 }],
      edgeCases: false,
      runners: ['reference', nodeCorruptingRunner(createRunner('ort-cpu'), name, 0.01)],
      localize: {},
    });
    const l = r.backends[1]!.localization!;
    expect(l.node?.name).toBe(name);
    expect(l.node?.where).toMatch(where);
    expect(l.node?.iteration).toBe(0);
    expect(l.repro?.verdict).toBe('reproduces alone');
  });
});
