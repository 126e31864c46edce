/**
 * The README's "From PyTorch" path, run as written: its ```python block (train in PyTorch, save_state_dict,
 * capture) with Debian's /usr/bin/python3 and python/gru_onnx_torch.py, then its ```sh lines 2–3 (export, verify
 * against the capture) through the CLI, with the file names resolved in the run's directory. Also the helper's
 * own contract: names and dtypes checked, TensorProto readable, --help. Needs torch and numpy in /usr/bin/python3
 * (CI installs python3-torch and python3-numpy); without them these tests are skipped, saying why.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSourceModel } from '@gru-onnx/model';
import { loadBundle, readTensorFile } from '@gru-onnx/verify';
import { PYTHON, ROOT, runCli, torchMissing } from './cli-helpers.ts';

const execFileAsync = promisify(execFile);
/** Python without a bytecode cache: importing python/gru_onnx_torch.py must not write into the repository. */
const run = (file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout: number }) =>
  execFileAsync(file, args, { ...options, env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: '1' } });

const missing = torchMissing();
if (missing) console.warn(`test/from-pytorch.test.ts skipped: ${missing}`);

/** The first fenced block of `lang` after `heading` in README.md. */
function readmeBlock(heading: string, lang: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const m = new RegExp(`\\n\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(section);
  if (!m) throw new Error(`README: no \`\`\`${lang} block under ${heading}`);
  return m[1]!;
}

const PATH_OPTIONS = new Set(['--weights', '--out', '--model', '--bundle', '--report']);

describe.skipIf(missing !== undefined)(`the README's From PyTorch path${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'from-pytorch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('train → save_state_dict → export → capture → verify passes, and the head matters', async () => {
    writeFileSync(join(dir, 'train.py'), readmeBlock('## From PyTorch', 'python'));
    const sh = readmeBlock('## From PyTorch', 'sh').split('\n');
    expect(sh[0]).toBe('PYTHONPATH=python /usr/bin/python3 train.py');
    await run(PYTHON, ['train.py'], { cwd: dir, env: { ...process.env, PYTHONPATH: join(ROOT, 'python') }, timeout: 120_000 });

    const cli = async (line: string) => {
      const args = line.replace(/^npx -y pnpm@12\.4\.2 gru-onnx /, '').split(/\s+/);
      return runCli(args.map((a, i) => (PATH_OPTIONS.has(args[i - 1] ?? '') ? resolve(dir, a) : a)));
    };
    const exported = await cli(sh[1]!);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/^assumed forward \(--head last-step\): out, h_n = gru\(x\); logits = fc\(out\[:, -1\]\); batch_first=True$/m);
    const verified = await cli(sh[2]!);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^PASS \(exit 0\)/m);

    // save_state_dict recorded the GRU's layout; the capture holds the README's shapes.
    const source = loadSourceModel(join(dir, 'model.safetensors'), undefined, { head: 'last-step' });
    expect(source.kind === 'pytorch-gru' && [source.batchFirst, source.numLayers, source.bidirectional]).toEqual([true, 2, true]);
    const bundle = loadBundle(join(dir, 'captured'), readFileSync(join(dir, 'model.onnx')));
    expect(bundle.cases.map((c) => c.inputs.x!.dims)).toEqual([[4, 1, 12], [4, 20, 12], [4, 100, 12]]);

    // The same weights exported under the head this forward() does not use: the capture fails it.
    const wrong = await cli(sh[1]!.replace('last-step', 'final-state').replace('model.onnx', 'wrong.onnx'));
    expect(wrong.code).toBe(0);
    const caught = await cli(`${sh[2]!.replace('model.onnx', 'wrong.onnx')} --backends ort-cpu`);
    expect(caught.code, caught.stdout).toBe(1);
  }, 180_000);

  it('save_state_dict refuses what gru-onnx cannot read, naming the tensor; capture writes TensorProto the onnx package reads', async () => {
    const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})
from gru_onnx_torch import save_state_dict, capture
for sd in ({"gru.weight_ih_l0": torch.zeros(3, 2, dtype=torch.float64)}, {"bn.num_batches_tracked": torch.tensor(0)}, {"a\\x1bb": torch.zeros(1)}):
    try:
        save_state_dict(sd, ${JSON.stringify(join(dir, 'bad.safetensors'))})
        print("written")
    except ValueError as e:
        print(e)
capture(torch.nn.Linear(3, 2), ${JSON.stringify(join(dir, 'lin'))}, [(2, 5)], 3)
`;
    const { stdout } = await run(PYTHON, ['-c', script], { timeout: 60_000 });
    expect(stdout.trim().split('\n')).toEqual([
      "tensor 'gru.weight_ih_l0': dtype torch.float64; gru-onnx reads float32 only (call model.float() first, or leave this tensor out)",
      "tensor 'bn.num_batches_tracked': dtype torch.int64; gru-onnx reads float32 only (call model.float() first, or leave this tensor out)",
      "tensor name 'a\\x1bb' holds control characters",
    ]);
    // Our reader and, independently, the onnx package's agree on the hand-written TensorProto.
    const x = readTensorFile(join(dir, 'lin', 'test_data_set_0', 'input_0.pb'));
    expect([x.name, x.tensor.dims]).toEqual(['x', [2, 5, 3]]);
    const check = await run(PYTHON, ['-c', `
import onnx, sys
t = onnx.TensorProto(); t.ParseFromString(open(sys.argv[1], "rb").read())
print(t.name, list(t.dims), t.data_type, len(t.raw_data))`, join(dir, 'lin', 'test_data_set_0', 'output_0.pb')], { timeout: 60_000 }).catch(() => undefined);
    if (!check) console.warn(`from-pytorch: the onnx package cross-check was not run: ${PYTHON} cannot import onnx (python3-onnx)`);
    else expect(check.stdout.trim()).toBe('logits [2, 5, 2] 1 80');
  }, 120_000);

  it('convert turns a torch.save\'d state_dict into the safetensors export reads, recording batch_first', async () => {
    const pt = join(dir, 'seqfirst.pt');
    await run(PYTHON, ['-c', `import torch; torch.manual_seed(0); m = torch.nn.Module(); m.gru = torch.nn.GRU(3, 4); m.fc = torch.nn.Linear(4, 2); torch.save(m.state_dict(), ${JSON.stringify(pt)})`], { timeout: 60_000 });
    expect(() => loadSourceModel(pt)).toThrow(/a torch\.save \(pickle\) file.*python\/gru_onnx_torch\.py/);
    const out = join(dir, 'seqfirst.safetensors');
    const r = await run(PYTHON, [join(ROOT, 'python', 'gru_onnx_torch.py'), 'convert', pt, out, '--batch-first', 'false'], { timeout: 60_000 });
    expect(r.stdout.trim()).toBe(`wrote ${out}: 6 tensors`);
    const m = loadSourceModel(out);
    expect(m.kind === 'pytorch-gru' && [m.inputSize, m.hiddenSize, m.outputSize, m.batchFirst, m.head]).toEqual([3, 4, 2, false, 'final-state']);
  }, 60_000);

  it('has a command line with --help, and convert names a bad file in one error line (exit 2)', async () => {
    const help = await run(PYTHON, [join(ROOT, 'python', 'gru_onnx_torch.py'), '--help'], { timeout: 60_000 });
    expect(help.stdout).toMatch(/convert.*\n(.|\n)*capture/);
    const bad = await run(PYTHON, [join(ROOT, 'python', 'gru_onnx_torch.py'), 'convert', join(dir, 'nope.pt'), join(dir, 'x.safetensors')], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect('code' in bad ? [bad.code, bad.stderr.trim().split('\n').length] : 'exit 0').toEqual([2, 1]);
    expect(bad.stderr).toMatch(/^error: .*nope\.pt/);
  }, 60_000);
});
