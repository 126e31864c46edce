import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.ts';

// The real executable, spawned: exit codes and stderr as a shell or CI script sees them.
describe('gru-onnx usage (spawned)', () => {
  it.each(['demo', 'train', 'export', 'verify', 'inspect', 'doctor', 'bench'])('%s --help exits 0 and shows an example', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: gru-onnx ${cmd}`);
    expect(r.stdout).toMatch(/Examples:\n {2}\$ pnpm /);
  });

  it.each([
    [['train', '--out', 'x.safetensors', '--no-such-option'], "unknown option '--no-such-option'"],
    [['train', '--out', 'x.safetensors', '--epochs', '-1'], "option '--epochs <n>' argument '-1' is invalid"],
    [['verify', '--model', 'm.onnx', '--weights', 'w.safetensors', '--shapes', '1x65537'], "option '--shapes <list>' argument '1x65537' is invalid"],
    [['verify', '--model', 'm.onnx', '--weights', 'w.safetensors', '--backends', 'nope'], "option '--backends <list>' argument 'nope' is invalid"],
    [['export', '--weights', 'no-such.safetensors', '--out', 'm.onnx'], "--weights: no such file 'no-such.safetensors'"],
  ])('%j: exit 2, one error line naming the option', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
