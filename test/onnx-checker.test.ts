/**
 * Every graph gru-onnx writes, judged by ONNX's own checker (Debian's python3-onnx: `onnx.checker.check_model`
 * with `full_check`, which runs ONNX's shape inference too): code that shares nothing with our builder, our
 * checker or onnxruntime, which accepts some invalid graphs (a Concat with no inputs that nothing reads, say).
 * The seed model, the PyTorch and tfjs imports, every form and target, with and without state inputs and outputs,
 * at opsets 7 to 17 (python3-onnx 1.12 knows opsets up to 17).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSourceModel, randomParams, SEED_CONFIG, type SourceModel } from '@gru-onnx/model';
import { exportSourceModel, type ExportOptions } from '@gru-onnx/onnx';
import { PYTHON } from './cli-helpers.ts';
import { FIXTURES } from './imports-helpers.ts';
import { load, MODELS } from './pytorch-rnns-helpers.ts';

/** Why ONNX's checker cannot run here, or undefined. */
function onnxMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore', timeout: 60_000 });
    return undefined;
  } catch {
    return `${PYTHON} cannot import onnx (apt-get install python3-onnx; .ci/run does)`;
  }
}

/** Checks each file with onnx.checker.check_model(full_check=True); returns file → error ('' when it passes). */
const CHECK = `
import json, sys, onnx
out = {}
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        out[path] = ''
    except Exception as e:
        out[path] = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
print(json.dumps(out))
`;

const sources: [string, SourceModel][] = [
  ['seed', { kind: 'seed', params: randomParams(SEED_CONFIG, 3, 0.25) } as SourceModel],
  ...MODELS.map(([name, head]): [string, SourceModel] => [name, load(name, head)]),
  ...['gru-lstm-rnn', 'lstm-hard', 'rnn-relu'].map((name): [string, SourceModel] => [`tfjs ${name}`, loadSourceModel(resolve(FIXTURES, 'tfjs-rnns', name))]),
];

/** The option sets each source is exported with: every form and target, state I/O on and off, opsets 7 to 17. */
const variants: ExportOptions[] = [
  ...(['fused', 'scan', 'auto'] as const).flatMap((form) => [
    { form },
    { form, hiddenStates: true, h0: true, hN: true },
  ]),
  ...(['wasm', 'webgpu', 'cuda'] as const).map((target) => ({ form: 'auto' as const, target, hiddenStates: true })),
  ...[7, 8, 9, 13].flatMap((opset) => [
    { form: 'scan' as const, opset, hiddenStates: true, h0: true, hN: true },
    { form: 'auto' as const, opset },
  ]),
];

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-checker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(onnxMissing() !== undefined)("ONNX's own checker (full_check, python3-onnx)", () => {
  it('passes every graph gru-onnx exports: seed, PyTorch and tfjs imports, every form, target, opset and state option', { timeout: 180_000 }, () => {
    const files = new Map<string, string>();
    sources.forEach(([name, source], i) => {
      variants.forEach((v, j) => {
        const path = join(dir, `${i}-${j}.onnx`);
        writeFileSync(path, exportSourceModel(source, v));
        files.set(path, `${name} ${JSON.stringify(v)}`);
      });
    });
    const verdicts = JSON.parse(execFileSync(PYTHON, ['-c', CHECK, ...files.keys()], { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 << 20 })) as Record<string, string>;
    expect(Object.keys(verdicts)).toHaveLength(files.size);
    const failures = Object.entries(verdicts).filter(([, error]) => error !== '').map(([path, error]) => `${files.get(path)}: ${error}`);
    expect(failures).toEqual([]);
  });

  it('is a real check: it refuses a graph with a Concat of no inputs, which onnxruntime runs when nothing reads it', () => {
    const path = join(dir, 'planted.onnx');
    const bytes = exportSourceModel(sources[0]![1], { form: 'scan' });
    writeFileSync(path, bytes);
    // Planted with ONNX's own helpers, so the test does not lean on our builder to make the bad graph.
    const plant = `
import sys, onnx
from onnx import helper
m = onnx.load(sys.argv[1])
m.graph.node.append(helper.make_node('Concat', [], ['orphan'], axis=0))
onnx.save(m, sys.argv[1])
`;
    execFileSync(PYTHON, ['-c', plant, path], { timeout: 60_000 });
    const verdicts = JSON.parse(execFileSync(PYTHON, ['-c', CHECK, path], { encoding: 'utf8', timeout: 60_000 })) as Record<string, string>;
    expect(verdicts[path]).toMatch(/Concat|input/i);
  });
});
