import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '@gru-onnx/model';
import { BACKENDS } from './runner.ts';
import { applyOverride, defaultTolerances, loadTolerances, parseTolerances, toleranceFor } from './tolerances.ts';

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

  it('gives float16 and bfloat16 their own tolerance per backend, looser than float32 and than each other', () => {
    const t = defaultTolerances();
    for (const b of BACKENDS) {
      const f32 = toleranceFor(t[b], 'float32');
      const f16 = toleranceFor(t[b], 'float16');
      const bf16 = toleranceFor(t[b], 'bfloat16');
      expect(toleranceFor(t[b], 'float64')).toEqual(f32);
      // One float16 rounding alone is 2^-11 relative: a float16 tolerance below that would fail exact kernels.
      expect(f16.rtol).toBeGreaterThanOrEqual(2 ** -11);
      expect(bf16.rtol).toBeGreaterThanOrEqual(2 ** -8);
      expect(f16.rtol).toBeGreaterThan(f32.rtol);
    }
    expect(toleranceFor(t['browser-webgpu'], 'float16').atol).toBeGreaterThan(toleranceFor(t['ort-cpu'], 'float16').atol);
    expect(() => parseTolerances('{"backends":{"tfjs":{"atol":1,"rtol":1,"float16":{"atol":1}}}}', 'x.json', t)).toThrow('x.json: backends.tfjs.float16.rtol: must be a finite number ≥ 0');
  });

  it('layers a user file over the defaults and rejects bad entries with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tol-'));
    const p = join(dir, 't.json');
    writeFileSync(p, JSON.stringify({ backends: { 'ort-cpu': { atol: 1e-3, rtol: 0 } } }));
    const t = loadTolerances(p);
    // float16 is not in the file: the default's entry stays.
    expect(t['ort-cpu']).toEqual({ atol: 1e-3, rtol: 0, source: p, float16: defaultTolerances()['ort-cpu'].float16, bfloat16: defaultTolerances()['ort-cpu'].bfloat16 });
    expect(t.tfjs.source).toBe('tolerances.json');
    expect(() => parseTolerances('{"backends":{"gpu":{"atol":1,"rtol":1}}}', 'x.json', t)).toThrow(/unknown backend "gpu"/);
    expect(() => parseTolerances('{"backends":{"tfjs":{"atol":-1,"rtol":1}}}', 'x.json', t)).toThrow(UserError);
    expect(() => parseTolerances('{', 'x.json')).toThrow(/x.json: not valid JSON/);
    expect(() => loadTolerances(join(dir, 'missing.json'))).toThrow(UserError);
  });

  it('applies --atol/--rtol to every backend', () => {
    const t = applyOverride(defaultTolerances(), { atol: 0.5 });
    for (const b of BACKENDS) expect([t[b].atol, t[b].float16?.atol]).toEqual([0.5, 0.5]);
    expect(t['ort-cpu'].rtol).toBe(1e-5);
    expect(() => applyOverride(t, { rtol: Number.NaN })).toThrow(/--rtol/);
  });

  it('refuses every malformed file with a message naming the file and the entry', () => {
    const parse = (text: string) => () => parseTolerances(text, 'x.json');
    for (const doc of ['null', '5', '"s"', '[]', '{}', '{"backends":null}', '{"backends":5}']) expect(parse(doc)).toThrow(new UserError('x.json: expected an object with "backends"'));
    expect(parse('{"backends":{"tfjs":null}}')).toThrow(new UserError('x.json: backends.tfjs must be an object'));
    expect(parse('{"backends":{"tfjs":5}}')).toThrow(new UserError('x.json: backends.tfjs must be an object'));
    expect(parse('{"backends":{"tfjs":{"atol":"1","rtol":0}}}')).toThrow(new UserError('x.json: backends.tfjs.atol: must be a finite number ≥ 0'));
    expect(parse('{"backends":{"tfjs":{"atol":0,"rtol":-1}}}')).toThrow(new UserError('x.json: backends.tfjs.rtol: must be a finite number ≥ 0'));
    expect(parse('{"backends":{"gpu":{}}}')).toThrow(new UserError(`x.json: unknown backend "gpu" (known: ${BACKENDS.join(', ')})`));
    // Without a base table every backend needs an entry.
    const two = JSON.stringify({ backends: Object.fromEntries(BACKENDS.slice(2).map((b) => [b, { atol: 0, rtol: 0 }])) });
    expect(parse(two)).toThrow(new UserError(`x.json: no tolerance for ${BACKENDS.slice(0, 2).join(', ')}`));
    expect(() => loadTolerances('/nonexistent/t.json')).toThrow(/^\/nonexistent\/t\.json: cannot read \(ENOENT/);
  });

  it('refuses a half-precision entry that is not an object with valid numbers, naming the entry', () => {
    const parse = (half: string) => () => parseTolerances(`{"backends":{"tfjs":{"atol":0,"rtol":0,"bfloat16":${half}}}}`, 'x.json', defaultTolerances());
    for (const bad of ['5', '"0.01"', 'null']) expect(parse(bad)).toThrow(new UserError('x.json: backends.tfjs.bfloat16 must be an object with atol and rtol'));
    expect(parse('{"atol":-1,"rtol":0}')).toThrow(new UserError('x.json: backends.tfjs.bfloat16.atol: must be a finite number ≥ 0'));
    expect(parse('{"atol":0.5,"rtol":0.25}')().tfjs.bfloat16).toEqual({ atol: 0.5, rtol: 0.25 });
    // Absent (not null) keeps the default's entry.
    const absent = parseTolerances('{"backends":{"tfjs":{"atol":0,"rtol":0}}}', 'x.json', defaultTolerances());
    expect(absent.tfjs.bfloat16).toEqual(defaultTolerances().tfjs.bfloat16);
  });

  it('overrides only the half-precision entries a backend has', () => {
    // A complete table with no float16/bfloat16 entries at all: the override adds none and does not trip on them.
    const plain = parseTolerances(JSON.stringify({ backends: Object.fromEntries(BACKENDS.map((b) => [b, { atol: 0, rtol: 0 }])) }), 'x.json');
    const r = applyOverride(plain, { atol: 0.5 });
    expect(r.tfjs).toEqual({ atol: 0.5, rtol: 0, source: 'command line' });
    expect(toleranceFor(r.tfjs, 'float16')).toEqual({ atol: 0.5, rtol: 0 });
  });

  it('leaves the table as it is without an override, and names the option a bad override came from', () => {
    const t = defaultTolerances();
    expect(applyOverride(t, undefined)).toBe(t);
    expect(applyOverride(t, {})).toBe(t);
    const r = applyOverride(t, { rtol: 0 });
    expect(r.tfjs).toMatchObject({ atol: t.tfjs.atol, rtol: 0, source: 'command line' });
    expect(() => applyOverride(t, { atol: -1 })).toThrow(new UserError('--atol: must be a finite number ≥ 0'));
    expect(() => applyOverride(t, { rtol: Infinity })).toThrow(new UserError('--rtol: must be a finite number ≥ 0'));
  });
});
