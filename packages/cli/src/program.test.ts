import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import { main, type Io } from './index.ts';
import { describeError, EXIT, InterruptedError } from './exit-codes.ts';

/** Runs the CLI in-process, capturing what it writes. */
async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: Io = { out: (s) => void (stdout += s), err: (s) => void (stderr += s), stderrIsTTY: false, stderrStream: process.stderr };
  const code = await main(argv, { io });
  return { code, stdout, stderr };
}

const COMMANDS = ['demo', 'train', 'export', 'verify', 'inspect', 'doctor', 'bench'];

describe('gru-onnx program', () => {
  it.each(COMMANDS)('%s --help exits 0 with an example on stdout', async (cmd) => {
    const r = await run(cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: gru-onnx ${cmd}`);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toMatch(new RegExp(`\\$ pnpm (gru-onnx )?${cmd}`));
    expect(r.stderr).toBe('');
  });

  it('--version and help CMD exit 0', async () => {
    expect(await run('--version')).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const r = await run('help', 'verify');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: gru-onnx verify');
  });

  it('no command: help on stderr, usage error', async () => {
    const r = await run();
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('Usage: gru-onnx');
  });

  it.each([
    [['train', '--out', 'x', '--bogus'], "unknown option '--bogus'"],
    [['train', '--out', 'x', '--epochs', '-1'], "'--epochs <n>' argument '-1' is invalid"],
    [['train', '--out', 'x', '--lr', '0'], "'--lr <x>' argument '0' is invalid"],
    [['train', '--out', 'x', '--backend', 'gpu'], "'--backend <name>' argument 'gpu' is invalid"],
    [['train'], "required option '--out <file>' not specified"],
    [['export', '--weights', 'w', '--out', 'm.onnx', '--opset', '99'], "'--opset <n>' argument '99' is invalid"],
    [['export', '--weights', 'w', '--out', 'm.onnx', '--form', 'loop'], "'--form <form>' argument 'loop' is invalid"],
    [['verify', '--shapes', '1x65537'], "'--shapes <list>' argument '1x65537' is invalid"],
    [['verify', '--backends', 'nope'], "'--backends <list>' argument 'nope' is invalid"],
    [['verify', '--require', 'ort-cpu,nope'], "'--require <list>' argument 'ort-cpu,nope' is invalid"],
    [['verify', '--atol', '-1'], "'--atol <x>' argument '-1' is invalid"],
    // --model alone is a whole verification now (inputs from its signature, a baseline backend): the file must exist.
    [['verify', '--model', 'm.onnx'], "--model: no such file 'm.onnx'"],
    [['verify', '--weights', 'package.json'], '--model FILE.onnx is required (or --bundle DIR)'],
    [['verify', '--model', 'package.json', '--steps', '3'], '--steps: give what each step carries to the next with --carry OUT=IN'],
    [['verify', '--model', 'package.json', '--webgpu-adapter', 'gpu'], "option '--webgpu-adapter <kind>' argument 'gpu' is invalid"],
    [['verify', '--bundle', 'no-such-dir'], "--bundle: no such directory 'no-such-dir'"],
    [['verify', '--model', 'package.json', '--weights', 'no-such.safetensors'], "--weights: no such file 'no-such.safetensors'"],
    [['verify', '--bundle', 'package.json'], "--bundle: 'package.json' is a file, not a directory"],
    [['inspect'], "missing required argument 'file.onnx'"],
    [['nope'], "unknown command 'nope'"],
    [['bench', '--only', 'nope'], "--only: no benchmark 'nope'"],
    [['export', '--weights', 'fixtures/model/pytorch-seed.safetensors', '--out', 'no-such-dir/m.onnx'], 'no-such-dir/m.onnx: cannot write (no directory no-such-dir)'],
    [['demo', '--out', 'package.json'], "--out: cannot create directory 'package.json'"],
  ])('%j is a usage error naming the problem', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith('error: ')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('a suggestion stays on the error line', async () => {
    const r = await run('train', '--out', 'x', '--epoch', '3');
    expect(r.stderr).toMatch(/^error: unknown option '--epoch' \(Did you mean --epochs\?\)\n$/);
  });
});

describe('describeError', () => {
  it('UserError is exit 2 without a stack', () => {
    const d = describeError(new UserError('bad\nthing'), false);
    expect(d).toEqual({ line: 'error: bad thing', code: EXIT.usage });
  });
  it('anything else is an internal error, exit 70', () => {
    expect(describeError(new TypeError('x is undefined'), false)).toEqual({ line: 'error: internal: x is undefined', code: EXIT.internal });
  });
  it('a failed system call (a missing directory, no permission) is bad input, exit 2', () => {
    const err = Object.assign(new Error("ENOENT: no such file or directory, open 'nope/x.onnx'"), { code: 'ENOENT', syscall: 'open' });
    expect(describeError(err, false)).toEqual({ line: "error: ENOENT: no such file or directory, open 'nope/x.onnx'", code: EXIT.usage });
  });
  it('--verbose adds the stack', () => {
    expect(describeError(new UserError('bad'), true).line).toContain('at ');
  });
  it('an interruption is exit 130', () => {
    expect(describeError(new InterruptedError(), false).code).toBe(130);
  });
});
