import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel, makeGraph, makeModel, makeNode, makeValueInfo, MODEL_SUMMARY_SCHEMA } from '@gru-onnx/onnx';
import { runCli } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(MODEL_SUMMARY_SCHEMA);

describe('gru-onnx export + inspect (spawned)', () => {
  it('export writes a model and inspect --json describes it, valid against the summary schema', async () => {
    const model = join(dir, 'seed.onnx');
    const e = await runCli(['export', '--weights', 'fixtures/model/pytorch-seed.safetensors', '--out', model, '--form', 'fused', '--hidden-states']);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/^wrote .*seed\.onnx: seed model, fused form, opset 17: x \[batch, seq, 8\] -> logits \[batch, 4\], hidden_states \[batch, seq, 16\], [\d,]+ parameters, \d+ bytes, sha256 [0-9a-f]{16}…\n$/);

    const r = await runCli(['inspect', model, '--json']);
    expect(r.code).toBe(0);
    const summary: unknown = JSON.parse(r.stdout);
    expect(validate(summary), JSON.stringify(validate.errors)).toBe(true);
    expect(summary).toMatchObject({
      inputs: [{ name: 'x', dims: ['batch', 'seq', 8] }],
      outputs: [{ name: 'logits' }, { name: 'hidden_states' }],
      nodeCounts: { GRU: 1 },
    });
  });

  it('inspect --json on a model made elsewhere (PyTorch exporter) is valid too', async () => {
    const r = await runCli(['inspect', 'fixtures/pytorch-export/model.onnx', '--json']);
    expect(r.code).toBe(0);
    expect(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('inspect text names inputs, outputs, ops and the checker verdict', async () => {
    const r = await runCli(['inspect', 'fixtures/pytorch-export/model.onnx']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^inputs:\n {2}x +FLOAT \[batch, seq, 8\]$/m);
    expect(r.stdout).toMatch(/^nodes: 237 \(/m);
    expect(r.stdout).toMatch(/^checker: ok$/m);
  });

  it('inspect text lists each checker finding once, naming the node', async () => {
    const model = join(dir, 'broken.onnx');
    const graph = makeGraph({
      name: 'main',
      nodes: [makeNode('Relu', ['missing'], ['y'], undefined, { name: 'relu' })],
      inputs: [makeValueInfo('x', 'float32', [1])],
      outputs: [makeValueInfo('y', 'float32', [1])],
    });
    writeFileSync(model, encodeModel(makeModel(graph, { opset: 17 })));
    const r = await runCli(['inspect', model]);
    expect(r.code).toBe(0);
    const findings = r.stdout.split('\n').filter((l) => l.includes("input 'missing' is not defined"));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatch(/^ {2}node 'relu' \(Relu\) in graph 'main': input 'missing'/);
    expect(findings[0]!.match(/node 'relu'/g)).toHaveLength(1);
  });

  it('a file that is not ONNX: exit 2, one error line', async () => {
    const r = await runCli(['inspect', 'package.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: package\.json is not a valid ONNX model: [^\n]*\n$/);
  });
});
