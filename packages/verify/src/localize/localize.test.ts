import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle.ts';
import { createRunner } from '../registry.ts';
import type { Feeds, Runner } from '../runner.ts';
import { defaultTolerances } from '../tolerances.ts';
import { localize } from './localize.ts';
import type { LocalizeOptions } from './localize.ts';
import { nodeCorruptingRunner, plantedModel } from './planted.ts';

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

  it('a fault inside tolerance names no node', async () => {
    const r = await localize({ model, feeds, caseId: 'set 0', baseline: cpu, target: nodeCorruptingRunner(cpu, 'act', tolerance.atol / 10), tolerance, run });
    expect(r.result).toBe('masked');
    expect(r.node).toBeUndefined();
  });
});
