import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import { BACKENDS } from './runner.ts';
import { applyOverride, defaultTolerances, loadTolerances, parseTolerances } from './tolerances.ts';

describe('tolerances', () => {
  it('has a documented default for every backend', () => {
    const t = defaultTolerances();
    for (const b of BACKENDS) {
      expect(t[b].atol).toBeGreaterThan(0);
      expect(t[b].source).toBe('tolerances.json');
    }
    expect(t['ort-cpu']).toMatchObject({ atol: 1e-5, rtol: 1e-5 });
    expect(t['browser-webgpu'].atol).toBeGreaterThan(t['ort-wasm'].atol);
    expect(t.reference.atol).toBeLessThan(t['ort-cpu'].atol);
  });

  it('layers a user file over the defaults and rejects bad entries with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tol-'));
    const p = join(dir, 't.json');
    writeFileSync(p, JSON.stringify({ backends: { 'ort-cpu': { atol: 1e-3, rtol: 0 } } }));
    const t = loadTolerances(p);
    expect(t['ort-cpu']).toEqual({ atol: 1e-3, rtol: 0, source: p });
    expect(t.tfjs.source).toBe('tolerances.json');
    expect(() => parseTolerances('{"backends":{"gpu":{"atol":1,"rtol":1}}}', 'x.json', t)).toThrow(/unknown backend "gpu"/);
    expect(() => parseTolerances('{"backends":{"tfjs":{"atol":-1,"rtol":1}}}', 'x.json', t)).toThrow(UserError);
    expect(() => parseTolerances('{', 'x.json')).toThrow(/x.json: not valid JSON/);
    expect(() => loadTolerances(join(dir, 'missing.json'))).toThrow(UserError);
  });

  it('applies --atol/--rtol to every backend', () => {
    const t = applyOverride(defaultTolerances(), { atol: 0.5 });
    for (const b of BACKENDS) expect(t[b].atol).toBe(0.5);
    expect(t['ort-cpu'].rtol).toBe(1e-5);
    expect(() => applyOverride(t, { rtol: Number.NaN })).toThrow(/--rtol/);
  });
});
