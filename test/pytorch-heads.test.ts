/**
 * PyTorch models checked against PyTorch itself (fixtures/pytorch-heads, made by tools/fixtures/make_pytorch_heads.py
 * with python/gru_onnx_torch.py): every head exact at every captured length, the forwards a state_dict hides caught
 * by their captures, and a third party's ONNX file checked the same way.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, loadSourceModel, type PytorchHead } from '@gru-onnx/model';
import { exportSourceModel, summarizeModel } from '@gru-onnx/onnx';
import { createRunner, createSourceReferenceRunner, loadBundle, verifyModel, type Report } from '@gru-onnx/verify';
import { runCli } from './cli-helpers.ts';
import { FIXTURES, summary } from './imports-helpers.ts';

const HEADS = `${FIXTURES}pytorch-heads/`;
/** name → the --head its forward() needs (undefined: none needed, unidirectional). */
const MODELS: [string, PytorchHead | undefined][] = [
  ['bi2-final-state', 'final-state'],
  ['bi2-last-step', 'last-step'],
  ['bi2-mean', 'mean'],
  ['uni2', undefined],
  ['seqfirst-bi1-last-step', 'last-step'],
];
/** The bar: within 1e-5 of PyTorch's own outputs. */
const TIGHT = { atol: 1e-5, rtol: 0 };

function load(name: string, head: PytorchHead | undefined) {
  const source = loadSourceModel(`${HEADS}${name}.safetensors`, undefined, head ? { head } : {});
  if (source.kind !== 'pytorch-gru') throw new Error(source.kind);
  return source;
}

/** Our export and our float64 reference, both against the capture (PyTorch's outputs), on ort-cpu and ort-wasm. */
async function againstCapture(name: string, head: PytorchHead | undefined, exportHead = head): Promise<Report> {
  const bytes = exportSourceModel(load(name, exportHead));
  return verifyModel({
    bundle: loadBundle(`${HEADS}${name}.capture`, bytes),
    runners: [createSourceReferenceRunner(load(name, head)), 'ort-cpu', 'ort-wasm'],
    createRunner: (b) => createRunner(b),
    override: TIGHT,
  });
}

describe('every head, exported and in the float64 reference, within 1e-5 of PyTorch at seq 1, 10, 37, 200 and batch 0', () => {
  it.each(MODELS)('%s (--head %s; none means the default)', async (name, head) => {
    const bundle = loadBundle(`${HEADS}${name}.capture`, exportSourceModel(load(name, head)));
    expect(bundle.cases.map((c) => c.inputs.x!.dims.slice(0, 2))).toEqual([[2, 1], [2, 10], [2, 37], [2, 200], [0, 10]]);
    const report = await againstCapture(name, head);
    expect(report.backends.map((b) => [b.name, b.status, b.cases.length]), summary(report)).toEqual([
      ['reference', 'pass', 5],
      ['ort-cpu', 'pass', 5],
      ['ort-wasm', 'pass', 5],
    ]);
  });

  // Slice and ReduceMean changed form at opsets 10 and 18: each head at the opsets around both.
  const opsets = [7, 9, 10, 13, 17, 18, 21].flatMap((opset) => (['bi2-last-step', 'bi2-mean'] as const).map((name) => [name, opset] as const));
  it.each(opsets)('%s at opset %i', async (name, opset) => {
    const head = MODELS.find(([n]) => n === name)![1];
    const report = await verifyModel({ bundle: loadBundle(`${HEADS}${name}.capture`, exportSourceModel(load(name, head), { opset })), runners: ['ort-cpu'], createRunner: (b) => createRunner(b), override: TIGHT });
    expect(report.backends.map((b) => [b.status, b.cases.length]), summary(report)).toEqual([['pass', 5]]);
  });

  it.each(MODELS)('%s: the head is in the model metadata', (name, head) => {
    expect(summarizeModel(exportSourceModel(load(name, head))).metadata['gru_onnx.head']).toBe(head ?? 'final-state');
  });

  // The capture tells the heads apart: a model exported under any other head fails against it at the default
  // tolerances. (Planting a wrong head in the exporter fails the test above the same way.)
  const wrong = MODELS.filter(([name]) => name.startsWith('bi2-')).flatMap(([name, head]) =>
    (['final-state', 'last-step', 'mean'] as const).filter((h) => h !== head).map((h) => [name, head, h] as const),
  );
  it.each(wrong)('%s (--head %s) exported as --head %s fails against its capture', async (name, _head, exportHead) => {
    const report = await verifyModel({ bundle: loadBundle(`${HEADS}${name}.capture`, exportSourceModel(load(name, exportHead))), runners: ['ort-cpu'], createRunner: (b) => createRunner(b) });
    expect(report.backends[0]!.status, summary(report)).toBe('fail');
    expect(report.summary.exitCode).toBe(1);
  });

  it.each(MODELS)('%s at seq 0 gives fc(0) = the bias on every backend (PyTorch refuses seq 0; this is our definition)', async (name, head) => {
    const source = load(name, head);
    const bias = source.fc.bias;
    const bytes = exportSourceModel(source);
    const report = await verifyModel({
      bundle: { model: bytes, cases: [{ name: 'seq0', inputs: { x: { dims: [2, 0, source.inputSize], data: new Float32Array(0) } }, outputs: { logits: { dims: [2, bias.length], data: Float32Array.from([...bias, ...bias]) } } }] },
      runners: [createSourceReferenceRunner(source), 'ort-cpu'],
      createRunner: (b) => createRunner(b),
      override: { atol: 0, rtol: 0 },
    });
    expect(report.backends.map((b) => b.status), summary(report)).toEqual(['pass', 'pass']);
  });
});

describe('verify --bundle: any ONNX file against PyTorch\'s own outputs (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-heads-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("torch.onnx.export's file passes against its capture; the names differ, so inputs and outputs are matched by position and the report says so", async () => {
    const r = await runCli(['verify', '--model', `${HEADS}bi2-last-step.torch.onnx`, '--bundle', `${HEADS}bi2-last-step.torch.capture`, '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.warnings).toEqual([
      "bundle inputs matched by position: 'x' as 'input' (the stored names are not the model's)",
      "bundle outputs matched by position: 'logits' as 'output' (the stored names are not the model's)",
    ]);
    expect(report.expected.source).toBe('bundle');
    expect(report.cases.map((c) => c.id)).toHaveLength(4);
  });

  it("the issue's false alarm: torch.onnx.export's file against the state_dict's reference passes once the head is declared", async () => {
    const args = ['verify', '--model', `${HEADS}bi2-last-step.torch.onnx`, '--weights', `${HEADS}bi2-last-step.safetensors`, '--backends', 'ort-cpu,reference', '--shapes', '2x10,3x64'];
    const r = await runCli([...args, '--head', 'last-step']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS \(exit 0\): every available backend matches: ort-cpu, reference$/m);
    // A file without gru-onnx's metadata says nothing of its head: --head is required, as for export.
    expect((await runCli(args)).code).toBe(2);
  });

  it('the seed model\'s traced export (10 steps baked in) passes at seq 10 and FAILS at seq 20 against PyTorch', async () => {
    const r = await runCli(['verify', '--model', `${FIXTURES}pytorch-export/model.onnx`, '--bundle', `${HEADS}seed-export.capture`, '--backends', 'ort-cpu', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.backends[0]!.cases.map((c) => c.status)).toEqual(['pass', 'fail']);
    expect(report.backends[0]!.cases[1]!.outputs[0]!.maxAbs).toBeGreaterThan(0.1);
  });

  // The five forwards of the issue that a state_dict cannot reveal: verify --weights passes (the reference assumes
  // what the export assumes), the capture fails them.
  it.each([
    ['silent-hn0', []],
    ['silent-swapped', ['--head', 'final-state']],
    ['silent-tanh', []],
    ['silent-softmax', []],
    ['silent-mean', []],
  ])('%s exports, passes verify --weights, and FAILS against its capture (exit 1)', async (name, head) => {
    const model = join(dir, `${name}.onnx`);
    const weights = `${HEADS}${name}.safetensors`;
    const e = await runCli(['export', '--weights', weights, ...head, '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/only a capture of your own module confirms this/);
    const w = await runCli(['verify', '--model', model, '--weights', weights, '--backends', 'ort-cpu', '--shapes', '2x10']);
    expect(w.code, w.stdout).toBe(0);
    const c = await runCli(['verify', '--model', model, '--bundle', `${HEADS}${name}.capture`, '--backends', 'ort-cpu']);
    expect(c.code, c.stdout).toBe(1);
    expect(c.stdout).toMatch(/^FAIL \(exit 1\): ort-cpu: fail/m);
  });
});

describe('verify --weights on a PyTorch import (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-verify-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const weights = `${HEADS}bi2-last-step.safetensors`;
  const model = join(dir, 'last-step.onnx');

  it('export without --head on a bidirectional model: exit 2, one line naming the choices, no file', async () => {
    const r = await runCli(['export', '--weights', weights, '--out', model]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*bi2-last-step\.safetensors: a bidirectional nn\.GRU.*--head final-state .* last-step .* or mean /);
    expect(existsSync(model)).toBe(false);
  });

  it('reads the head from the model, runs the reference backend on the imported weights and labels the expected values as theirs, at seq 0 and batch 0 too', async () => {
    expect((await runCli(['export', '--weights', weights, '--head', 'last-step', '--out', model])).code).toBe(0);
    const r = await runCli(['verify', '--model', model, '--weights', weights, '--shapes', '1x0,0x3,2x10', '--backends', 'reference,ort-cpu', '--report', join(dir, 'report'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^assumed forward \(--head last-step\): out, h_n = gru\(x\); logits = fc\(out\[:, -1\]\); batch_first=True$/m);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.expected).toEqual({ source: 'reference', description: `the float64 TypeScript reference of the PyTorch nn.GRU weights (${weights}, --head last-step)` });
    expect(report.backends.map((b) => [b.name, b.status])).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
    expect(report.backends[1]!.cases.map((c) => [c.id, c.status])).toEqual([['1x0', 'pass'], ['0x3', 'pass'], ['2x10', 'pass'], ['zeros 3x64', 'pass'], ['saturating 3x64', 'pass']]);
    expect(report.warnings).toBeUndefined();
    const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
    const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
    for (const text of [md, html]) expect(text).toContain('the float64 TypeScript reference of the PyTorch nn.GRU weights');
    const table = await runCli(['verify', '--model', model, '--weights', weights, '--shapes', '2x3', '--backends', 'ort-cpu']);
    expect(table.stdout).toMatch(/^max abs error vs the float64 TypeScript reference of the PyTorch nn\.GRU weights/m);
  });

  it('a --head that contradicts the model\'s metadata is exit 2', async () => {
    const r = await runCli(['verify', '--model', model, '--weights', weights, '--head', 'mean', '--backends', 'ort-cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --head mean, but .*last-step\.onnx was exported with --head last-step \(metadata gru_onnx\.head\)$/m);
  });

  it('weights other than the ones the model was exported from: warned on stderr and in the report before comparing', async () => {
    const other = `${HEADS}bi2-mean.safetensors`;
    const r = await runCli(['verify', '--model', model, '--weights', other, '--shapes', '2x10', '--backends', 'ort-cpu', '--json']);
    expect(r.code).toBe(1);
    const warning = /--weights .*bi2-mean\.safetensors \(sha256 [0-9a-f]{16}…\) is not the file this model was exported from \(metadata gru_onnx\.weights_sha256 [0-9a-f]{16}…\); comparing anyway/;
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^warning: ${warning.source}`));
    expect((JSON.parse(r.stdout) as Report).warnings).toEqual([expect.stringMatching(warning)]);
  });

  it('the wrong kind of file names it: an ONNX model as --weights, a safetensors file as --model', async () => {
    const a = await runCli(['verify', '--model', model, '--weights', model]);
    expect([a.code, a.stderr]).toEqual([2, expect.stringMatching(/^error: .*last-step\.onnx: looks like an ONNX model, not weights; pass it as --model/)]);
    const b = await runCli(['verify', '--model', weights, '--weights', weights]);
    expect([b.code, b.stderr]).toEqual([2, expect.stringMatching(/^error: .*bi2-last-step\.safetensors is a safetensors checkpoint, not an ONNX model; pass it as --weights/)]);
  });

  it('control bytes a file carries are escaped in the error line', async () => {
    const evil = join(dir, 'evil.safetensors');
    writeFileSync(evil, encodeSafetensors(new Map([['\u001b[2Jevil\rname', { shape: [1], data: new Float32Array(1) }]])));
    const r = await runCli(['export', '--weights', evil, '--out', join(dir, 'evil.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('\\x1b[2Jevil\\x0dname');
    // eslint-disable-next-line no-control-regex
    expect(r.stderr.trimEnd()).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });
});
