/**
 * PyTorch nn.LSTM and nn.RNN imports through the CLI (export, then verify --bundle of PyTorch's capture and verify
 * --weights; refusals with exit 2) and python/gru_onnx_torch.py's save_state_dict and capture on such modules.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSourceModel } from '@gru-onnx/model';
import { summarizeModel } from '@gru-onnx/onnx';
import type { Report } from '@gru-onnx/verify';
import { PYTHON, ROOT, runCli, torchMissing } from './cli-helpers.ts';
import { RNNS } from './pytorch-rnns-helpers.ts';

describe('export, then verify (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-rnns-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['lstm-bi2-sf', ['--head', 'last-step']],
    ['rnn-relu-bi2-bf', ['--head', 'last-step']],
  ])('%s: export --h0 --hidden-states --h-n, then verify --bundle of its capture and verify --weights: exit 0', async (name, flags) => {
    const model = join(dir, `${name}.onnx`);
    const e = await runCli(['export', '--weights', `${RNNS}${name}.safetensors`, ...flags, '--h0', '--hidden-states', '--h-n', '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(name.startsWith('lstm')
      ? /^assumed forward \(--head last-step\): out, \(h_n, c_n\) = rnn\(x\); logits = fc\(out\[-1\]\); batch_first=False$/m
      : /^assumed forward \(--head last-step\): out, h_n = rnn\(x\); logits = fc\(out\[:, -1\]\); batch_first=True; nonlinearity='relu'$/m);
    const b = await runCli(['verify', '--model', model, '--bundle', `${RNNS}${name}.capture`, '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0', '--json']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const bundled = JSON.parse(b.stdout) as Report;
    expect(bundled.cases).toHaveLength(5);
    // The sweep generates h0 (and c0) [S, batch, H] and checks every output against the float64 reference.
    const w = await runCli(['verify', '--model', model, '--weights', `${RNNS}${name}.safetensors`, '--shapes', '1x0,0x3,2x10', '--backends', 'reference,ort-cpu', '--json']);
    expect(w.code, w.stdout + w.stderr).toBe(0);
    const report = JSON.parse(w.stdout) as Report;
    expect(report.expected.description).toMatch(name.startsWith('lstm') ? /PyTorch nn\.LSTM weights .*--head last-step\)$/ : /PyTorch nn\.RNN weights .*--head last-step, nonlinearity relu\)$/);
    expect(report.backends.map((x) => [x.name, x.status])).toEqual([['reference', 'pass'], ['ort-cpu', 'pass']]);
    expect(report.backends[1]!.cases[2]!.outputs.map((o) => o.output).sort()).toEqual(name.startsWith('lstm') ? ['c_n', 'h_n', 'hidden_states', 'logits'] : ['h_n', 'hidden_states', 'logits']);
  });

  it.each([
    ['an nn.LSTM with proj_size', [`${RNNS}lstm-proj.safetensors`], /^error: .*lstm-proj\.safetensors: 'rnn\.weight_hr_l0' is \[3, 6\]: an nn\.LSTM with proj_size=3, which is not supported/],
    ['an nn.RNN whose file does not say its nonlinearity', [`${RNNS}rnn-no-nonlinearity.safetensors`], /^error: .*rnn-no-nonlinearity\.safetensors: an nn\.RNN, whose state_dict does not say its nonlinearity .*pass --nonlinearity tanh\|relu/],
    ['--source naming another cell', [`${RNNS}lstm-uni1-bf.safetensors`, '--source', 'pytorch-rnn'], /^error: .*lstm-uni1-bf\.safetensors: --source pytorch-rnn, but the file holds an nn\.LSTM \('rnn\.weight_ih_l0' \[24, 4\]: 4·hidden rows\); pass --source pytorch-lstm/],
    ['--nonlinearity for an nn.LSTM', [`${RNNS}lstm-uni1-bf.safetensors`, '--nonlinearity', 'relu'], /^error: .*lstm-uni1-bf\.safetensors: --nonlinearity is for nn\.RNN; this file holds an nn\.LSTM/],
    ['a nonlinearity that is neither', [`${RNNS}rnn-no-nonlinearity.safetensors`, '--nonlinearity', 'sigmoid'], /^error: option '--nonlinearity <fn>' argument 'sigmoid' is invalid\. Allowed choices are tanh, relu\./],
  ])('export refuses %s: exit 2, one line, no file', async (_, args, message) => {
    const out = join(dir, 'refused.onnx');
    const r = await runCli(['export', '--weights', ...args, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('an nn.RNN given --nonlinearity exports, and verify --weights reads the nonlinearity back from the model', async () => {
    const model = join(dir, 'bare.onnx');
    const weights = `${RNNS}rnn-no-nonlinearity.safetensors`;
    const e = await runCli(['export', '--weights', weights, '--nonlinearity', 'relu', '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(summarizeModel(readFileSync(model)).metadata['gru_onnx.nonlinearity']).toBe('relu');
    const v = await runCli(['verify', '--model', model, '--weights', weights, '--shapes', '2x10', '--backends', 'reference,ort-cpu']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // A nonlinearity other than the model's is a mistake, as a contradicting --head is; without weights it means nothing.
    const wrong = await runCli(['verify', '--model', model, '--weights', weights, '--nonlinearity', 'tanh', '--shapes', '2x10', '--backends', 'ort-cpu']);
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/^error: --nonlinearity tanh, but .*bare\.onnx was exported with --nonlinearity relu \(metadata gru_onnx\.nonlinearity\)\n$/)]);
    const alone = await runCli(['verify', '--model', model, '--nonlinearity', 'relu', '--backends', 'ort-cpu']);
    expect([alone.code, alone.stderr]).toEqual([2, 'error: --nonlinearity: only with --weights (it says how to read an nn.RNN state_dict)\n']);

  });
});

const missing = torchMissing();
if (missing) console.warn(`test/pytorch-rnns-cli.test.ts: the python/gru_onnx_torch.py tests are skipped: ${missing}`);

describe.skipIf(missing !== undefined)(`python/gru_onnx_torch.py with nn.LSTM and nn.RNN${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-rnns-py-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('save_state_dict records the cell and nonlinearity; capture --state feeds h0/c0; export --h0 --h-n --hidden-states then verify --bundle: exit 0', async () => {
    writeFileSync(join(dir, 'mymodel.py'), [
      'import torch',
      'from gru_onnx_torch import save_state_dict',
      'class M(torch.nn.Module):',
      '    def __init__(self, cell):',
      '        super().__init__()',
      "        self.rnn = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True) if cell == 'lstm' else torch.nn.RNN(3, 4, num_layers=2, nonlinearity='relu', batch_first=True)",
      '        self.fc = torch.nn.Linear(4, 2)',
      '    def forward(self, x, h0, c0=None):',
      "        out, hc = self.rnn(x, (h0, c0) if c0 is not None else h0)",
      '        h_n = hc[0] if c0 is not None else hc',
      '        return (self.fc(h_n[-1]), out, *((hc[0], hc[1]) if c0 is not None else (hc,)))',
      'def lstm():',
      "    torch.manual_seed(5); return M('lstm')",
      'def rnn():',
      "    torch.manual_seed(6); return M('rnn')",
      "if __name__ == '__main__':",
      "    save_state_dict(lstm(), 'lstm.safetensors'); save_state_dict(rnn(), 'rnn.safetensors')",
    ].join('\n'));
    const env = { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' };
    const py = (args: string[]) => promisify(execFile)(PYTHON, args, { cwd: dir, env, timeout: 120_000 });
    await py(['mymodel.py']);
    const rnn = loadSourceModel(join(dir, 'rnn.safetensors'));
    expect(rnn.kind === 'pytorch-rnn' && [rnn.nonlinearity, rnn.numLayers, rnn.batchFirst]).toEqual(['relu', 2, true]);
    for (const [cell, states, outputs] of [['lstm', ['h0=2x4', 'c0=2x4'], 'logits,hidden_states,h_n,c_n'], ['rnn', ['h0=2x4'], 'logits,hidden_states,h_n']] as const) {
      const cap = join(dir, `${cell}.capture`);
      await py([join(ROOT, 'python', 'gru_onnx_torch.py'), 'capture', '--module', `mymodel:${cell}`, '--input-size', '3', '--shapes', '2x1,2x9,0x4', ...states.flatMap((st) => ['--state', st]), '--outputs', outputs, '--out', cap]);
      const model = join(dir, `${cell}.onnx`);
      const e = await runCli(['export', '--weights', join(dir, `${cell}.safetensors`), '--h0', '--h-n', '--hidden-states', '--out', model]);
      expect(e.code, e.stderr).toBe(0);
      const v = await runCli(['verify', '--model', model, '--bundle', cap, '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0', '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const report = JSON.parse(v.stdout) as Report;
      expect(report.cases).toHaveLength(3);
      expect(report.backends[0]!.cases[1]!.outputs.map((o) => o.output).sort()).toEqual(outputs.split(',').sort());
    }
  }, 240_000);

  it('capture reads a seq-first module\'s batch_first itself: its capture of a mean-head bidirectional LSTM passes against the export', async () => {
    writeFileSync(join(dir, 'seqfirst.py'), [
      'import torch',
      'from gru_onnx_torch import capture, save_state_dict',
      'class M(torch.nn.Module):',
      '    def __init__(self):',
      '        super().__init__()',
      '        self.encoder = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)',
      '        self.out = torch.nn.Linear(10, 2)',
      '    def forward(self, x):',
      '        y, _ = self.encoder(x)',
      '        return self.out(y.mean(dim=0))',
      'torch.manual_seed(3)',
      'm = M()',
      "save_state_dict(m, 'seqfirst.safetensors')",
      "capture(m, 'seqfirst.capture', [(3, 1), (2, 7)], 3)",
    ].join('\n'));
    const env = { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' };
    await promisify(execFile)(PYTHON, ['seqfirst.py'], { cwd: dir, env, timeout: 120_000 });
    const model = join(dir, 'seqfirst.onnx');
    const e = await runCli(['export', '--weights', join(dir, 'seqfirst.safetensors'), '--head', 'mean', '--out', model]);
    expect(e.code, e.stderr).toBe(0);
    // Fed batch-first, the module would read 3×1 as seq 3, batch 1: logits [1, 2] against the export's [3, 2].
    const v = await runCli(['verify', '--model', model, '--bundle', join(dir, 'seqfirst.capture'), '--backends', 'ort-cpu', '--atol', '1e-5', '--rtol', '0']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 240_000);
});
