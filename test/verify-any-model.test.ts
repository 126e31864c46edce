/**
 * `verify` on models gru-onnx did not write (fixtures/any-models, made by tools/fixtures/any-models.py): inputs from
 * the signature, the baseline backend as the expected values, every dtype, bundles written from a baseline run,
 * PyTorch's own outputs for Conv/LSTM/If exports, and planted faults on a real backend.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corruptedRunner } from '../packages/verify/src/fake-runner.ts';
import {
  createRunner,
  drawFeeds,
  float16ToNumber,
  loadBundle,
  numberToFloat16,
  parseDecision,
  parseInputSpec,
  planInputs,
  readSignature,
  verifyModel,
  type NamedTensor,
  type Report,
  type VerifyCase,
  markdownReport,
} from '@gru-onnx/verify';
import { runCli } from './cli-helpers.ts';

const FIX = 'fixtures/any-models';
const dtypesModel = new Uint8Array(readFileSync(join(FIX, 'dtypes.onnx')));
const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-any-'));

function dtypeCases(): VerifyCase[] {
  const plans = planInputs(readSignature(dtypesModel).inputs, { dims: { batch: 3 }, inputs: { sr: parseInputSpec('16000', 'w') } });
  return [0, 1].map((i) => ({ id: `set ${i}`, kind: 'signature', feeds: drawFeeds(plans, 42, i) }));
}

const wasmWith = (perturb: (o: Record<string, NamedTensor>) => void) => corruptedRunner(createRunner('ort-wasm'), perturb);
const verifyDtypes = (runners: Parameters<typeof verifyModel>[0]['runners']): Promise<Report> => verifyModel({ model: dtypesModel, cases: dtypeCases(), inputSpecs: [], runners });
const output = (r: Report, backend: string, name: string) => r.backends.find((b) => b.name === backend)!.cases[0]!.outputs.find((o) => o.output === name)!;

describe('verify any model against a baseline backend', () => {
  it('runs a model with an input and output of every dtype on ort-cpu (baseline) and ort-wasm: integers and bools exact, float16 by its own tolerance', async () => {
    const r = await verifyDtypes(['ort-cpu', 'ort-wasm']);
    expect(r.summary.exitCode).toBe(0);
    expect(r.expected).toMatchObject({ source: 'baseline', backend: 'ort-cpu' });
    expect(r.backends.map((b) => [b.name, b.status])).toEqual([['ort-cpu', 'baseline'], ['ort-wasm', 'pass']]);
    const rules = Object.fromEntries(r.backends[1]!.cases[0]!.outputs.map((o) => [o.output, [o.dtype, o.rule]]));
    expect(rules.idx).toEqual(['int64', 'exact']);
    expect(rules.not_mask).toEqual(['bool', 'exact']);
    expect(rules.u64_out).toEqual(['uint64', 'exact']);
    expect(rules.half2).toEqual(['float16', { atol: 2e-3, rtol: 2e-3, dtype: 'float16' }]);
    expect(rules.y).toEqual(['float32', { atol: 1e-5, rtol: 1e-5, dtype: 'float32' }]);
  }, 60_000);

  it('planted: an integer output off by one fails, named with both values and the baseline', async () => {
    const r = await verifyDtypes(['ort-cpu', wasmWith((o) => void ((o.idx!.data as BigInt64Array)[1]! += 1n))]);
    expect(r.summary.exitCode).toBe(1);
    const idx = output(r, 'ort-wasm', 'idx');
    expect(idx).toMatchObject({ status: 'fail', failing: 1, rule: 'exact' });
    expect(r.backends[1]!.reason).toMatch(/idx: 1\/3 elements differ \(compared exactly\); first at \[1\]: got \d+, ort-cpu's \d+/);
  }, 60_000);

  it('planted: a bool flipped fails; float16 one half-ulp off passes, 0.05 off fails', async () => {
    const flip = await verifyDtypes(['ort-cpu', wasmWith((o) => void ((o.not_mask!.data as Uint8Array)[0]! ^= 1))]);
    expect(output(flip, 'ort-wasm', 'not_mask')).toMatchObject({ status: 'fail', failing: 1 });
    const nudge = (by: number) => (o: Record<string, NamedTensor>) => {
      const h = o.half2!.data as Uint16Array;
      h[0] = by === 0 ? h[0]! + 1 : numberToFloat16(float16ToNumber(h[0]!) + by);
    };
    const ulp = await verifyDtypes(['ort-cpu', wasmWith(nudge(0))]);
    expect(output(ulp, 'ort-wasm', 'half2').status).toBe('pass');
    expect(output(ulp, 'ort-wasm', 'half2').maxAbs).toBeGreaterThan(0);
    const off = await verifyDtypes(['ort-cpu', wasmWith(nudge(0.05))]);
    expect(output(off, 'ort-wasm', 'half2').status).toBe('fail');
    expect(off.summary.exitCode).toBe(1);
  }, 60_000);

  it('an unavailable baseline is exit 3 and nothing is compared', async () => {
    const never = { ...createRunner('ort-cpu'), probe: async () => ({ available: false as const, reason: 'planted', enable: 'n/a' }) };
    const r = await verifyDtypes([never, 'ort-wasm']);
    expect(r.summary.exitCode).toBe(3);
    expect(r.summary.message).toMatch(/the baseline backend ort-cpu is unavailable/);
    expect(r.backends[1]!.cases.every((c) => c.status === 'skipped' && /no expected values, ort-cpu \(the baseline\) is unavailable/.test(c.error!))).toBe(true);
  }, 60_000);
});

describe('gru-onnx verify --model FILE alone (spawned)', () => {
  it('generates inputs from the signature, says whose outputs are expected, and writes a bundle that replays', async () => {
    const bundle = join(dir, 'bundle');
    const r = await runCli(['verify', '--model', join(FIX, 'dtypes.onnx'), '--backends', 'ort-cpu,ort-wasm', '--dim', 'batch=2', '--input', 'sr=16000', '--input', 'x=uniform(-1,1)', '--cases', '2', '--save-bundle', bundle]);
    expect(r.stderr).toContain('input sr: int64 [] 16000');
    expect(r.stderr).toContain('input mask: bool [2, 4] int(0,1)');
    expect(r.stdout).toContain("expected: ort-cpu's outputs (the baseline backend)");
    expect(r.stdout).toMatch(/ort-cpu\s+baseline/);
    expect(r.code).toBe(0);
    const b = loadBundle(bundle);
    expect(b.cases.length).toBe(2);
    expect(b.cases[0]!.inputs.sr).toEqual({ dims: [], dtype: 'int64', data: BigInt64Array.of(16000n) });
    expect(b.cases[1]!.outputs.idx!.dtype).toBe('int64');
    expect(b.cases[1]!.outputs.half2!.dtype).toBe('float16');
    // Replayed elsewhere: the stored baseline outputs are the expected values.
    const again = await runCli(['verify', '--bundle', bundle, '--backends', 'ort-wasm', '--json']);
    expect(again.code).toBe(0);
    const rep = JSON.parse(again.stdout) as Report;
    expect(rep.expected.source).toBe('bundle');
    expect(rep.backends[0]!.cases.map((c) => c.status)).toEqual(['pass', 'pass']);
  }, 120_000);

  it.each([
    [['--model', `${FIX}/dtypes.onnx`], 'error: model input "x" [batch, 4]: axis 0 (batch) has no size; pass --dim batch=N'],
    [['--model', `${FIX}/string.onnx`], 'error: model input "text" is a string tensor: gru-onnx generates numbers only; give its values in a bundle (--bundle DIR)'],
    [['--model', `${FIX}/dtypes.onnx`, '--dim', 'batch=1', '--input', 'nope=1'], 'error: --input nope: the model has no such input'],
    [['--model', `${FIX}/dtypes.onnx`, '--dim', 'batch=1', '--input', 'x=@nowhere.npy'], 'error: --input x: nowhere.npy: cannot read'],
    [['--bundle', `${FIX}/conv`, '--input', 'x=1'], 'error: --input: only without --weights and --bundle'],
    [['--model', `${FIX}/conv.onnx`, '--baseline', 'reference'], "error: option '--baseline <backend>' argument 'reference' is invalid"],
  ])('bad input %j is exit 2 with one line', async (args, line) => {
    const r = await runCli(['verify', ...args, '--backends', 'ort-cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toContain(line);
    expect(r.stdout).toBe('');
  }, 60_000);
});

describe('decision flips (--decision)', () => {
  const conv = loadBundle(join(FIX, 'conv'));
  /** Swaps the two largest probabilities of row 0: the class a deployment would pick changes. */
  const swapTop = (o: Record<string, NamedTensor>) => {
    const y = o.y!.data as Float32Array;
    const row = Array.from(y.subarray(0, 4));
    const order = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
    y[order[0]![1]] = order[1]![0];
    y[order[1]![1]] = order[0]![0];
  };

  it('planted: a backend that swaps the top two classes flips argmax(y) once per case; counted, and the run fails', async () => {
    const r = await verifyModel({ bundle: conv, runners: ['ort-cpu', wasmWith(swapTop)], decisions: [parseDecision('argmax(y)')] });
    expect(r.summary.exitCode).toBe(1);
    const cpu = r.backends[0]!;
    expect(cpu.status).toBe('pass');
    expect(cpu.cases.map((c) => c.decisions![0]!.flips)).toEqual([0, 0]);
    const wasm = r.backends[1]!;
    // Row 0 of each data set (batch 1, then batch 4).
    expect(wasm.cases.map((c) => [c.decisions![0]!.decisions, c.decisions![0]!.flips, c.decisions![0]!.borderline])).toEqual([[1, 1, 0], [4, 1, 0]]);
    expect(wasm.reason).toMatch(/argmax\(y\): 1\/1 decisions flip; first at \[0\]: got index \d, expected index \d/);
  }, 60_000);

  it('a threshold decision on the CLI: flips counted in the table, the JSON and the exit code', async () => {
    const r = await runCli(['verify', '--bundle', join(FIX, 'conv'), '--backends', 'ort-cpu,ort-wasm', '--decision', 'y>0.25', '--decision', 'argmax(y)', '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.backends[0]!.cases[1]!.decisions!.map((d) => [d.decision, d.decisions, d.flips])).toEqual([['y>0.25', 16, 0], ['argmax(y)', 4, 0]]);
    const bad = await runCli(['verify', '--bundle', join(FIX, 'conv'), '--backends', 'ort-cpu', '--decision', 'prob>0.5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: --decision 'prob>0.5': the model has no output prob (outputs: y)");
  }, 60_000);
});

describe('stateful runs (--steps, --carry)', () => {
  const statefulModel = new Uint8Array(readFileSync(join(FIX, 'stateful.onnx')));
  const stepCases = (steps: number, specs: Record<string, string> = {}): VerifyCase[] => {
    const plans = planInputs(readSignature(statefulModel).inputs, { steps, inputs: { h: parseInputSpec('zeros', 'w'), ...Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, parseInputSpec(v, 'w')])) } });
    const stepFeeds = Array.from({ length: steps }, (_, t) => {
      const f = drawFeeds(plans, 42, 0, t);
      if (t > 0) delete f.h;
      return f;
    });
    return [{ id: 'set 0', kind: 'signature', feeds: stepFeeds[0]!, stepFeeds }];
  };
  const run = (runners: Parameters<typeof verifyModel>[0]['runners'], cases = stepCases(12)) =>
    verifyModel({ model: statefulModel, cases, inputSpecs: [], runners, carry: [['h_next', 'h']] });

  it('each backend carries its own state: ort-wasm stays within tolerance at every step', async () => {
    const r = await run(['ort-cpu', 'ort-wasm']);
    expect(r.summary.exitCode).toBe(0);
    const sr = r.backends[1]!.cases[0]!.stepRun!;
    expect(sr).toMatchObject({ steps: 12, carry: ['h_next=h'], firstOutOfTolerance: null });
    expect(sr.perStepMaxAbs).toHaveLength(12);
  }, 60_000);

  it('planted: a backend whose state drifts by 5e-6 per step fails only because it carries its own state, at the step its error first leaves tolerance', async () => {
    const drift = wasmWith((o) => {
      const h = o.h_next!.data as Float32Array;
      for (let i = 0; i < h.length; i++) h[i]! += 5e-6;
    });
    const r = await run(['ort-cpu', drift]);
    expect(r.summary.exitCode).toBe(1);
    const sr = r.backends[1]!.cases[0]!.stepRun!;
    const errs = sr.perStepMaxAbs as number[];
    // One step's offset alone is inside ort-wasm's tolerance (1e-5 + 1e-5·|e|); fed back, it accumulates.
    expect(errs[0]!).toBeLessThan(1e-5);
    const first = sr.firstOutOfTolerance!.step;
    expect(first).toBeGreaterThan(0);
    expect(errs[first]!).toBeGreaterThan(2 * errs[0]!);
    expect(errs.slice(0, first).every((e) => e < errs[first]!)).toBe(true);
    expect(sr.firstOutOfTolerance!.output).toBe('h_next');
    expect(r.backends[1]!.cases[0]!.status).toBe('fail');
    expect(markdownReport(r)).toContain(`first out of tolerance at step ${first} (h_next)`);
  }, 60_000);

  it('fresh inputs per step come from a .npy with a leading step axis; the CLI reports the steps', async () => {
    const r = await runCli(['verify', '--model', join(FIX, 'stateful.onnx'), '--backends', 'ort-cpu,ort-wasm', '--steps', '4', '--carry', 'h_next=h', '--input', `x=@${FIX}/arrays/steps_x.npy`, '--input', 'h=zeros', '--cases', '1', '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.input.specs!.find((s) => s.name === 'x')!.spec).toBe(`@${FIX}/arrays/steps_x.npy (step axis)`);
    expect(rep.backends[1]!.cases[0]!.stepRun!.perStepMaxAbs).toHaveLength(4);
    const bad = await runCli(['verify', '--model', join(FIX, 'stateful.onnx'), '--backends', 'ort-cpu', '--steps', '5', '--carry', 'h_next=h', '--input', `x=@${FIX}/arrays/steps_x.npy`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('steps_x.npy has 4 steps on its leading axis, --steps asks for 5');
    const noCarry = await runCli(['verify', '--model', join(FIX, 'stateful.onnx'), '--steps', '3']);
    expect(noCarry.stderr).toContain('error: --steps: give what each step carries to the next with --carry OUT=IN');
    const wrong = await runCli(['verify', '--model', join(FIX, 'stateful.onnx'), '--steps', '3', '--carry', 'prob=x', '--backends', 'ort-cpu']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('error: --carry prob=x: output prob is [1, 2], input x is [1, 6]');
  }, 120_000);
});

describe("PyTorch's own outputs (Conv, LSTM, If exports) as bundles", () => {
  it.each(['conv', 'lstm', 'if'])('%s: ort-cpu and ort-wasm match PyTorch', async (name) => {
    const r = await runCli(['verify', '--bundle', join(FIX, name), '--backends', 'ort-cpu,ort-wasm', '--json']);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.backends.map((b) => [b.name, b.status])).toEqual([['ort-cpu', 'pass'], ['ort-wasm', 'pass']]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(FIX, name)).filter((e) => e.startsWith('test_data_set_')).length).toBe(2);
  }, 60_000);

  it('the If model takes each branch in one of its two data sets (so both branches are checked)', () => {
    const b = loadBundle(join(FIX, 'if'));
    const sums = b.cases.map((c) => Array.from(c.inputs.x!.data as Float32Array).reduce((a, v) => a + v, 0));
    expect(sums.some((s) => s > 0) && sums.some((s) => s < 0)).toBe(true);
  });
});
