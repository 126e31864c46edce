import { describe, expect, it } from 'vitest';
import * as pkg from '@gru-onnx/onnx';
import { EXPORT_FORMS, EXPORT_TARGETS, exportSeedModel, exportTunedSeedModel } from './export-seed.ts';
import type { ExportOptions } from './export-seed.ts';
import { randomSeedParams } from './test-params.ts';

const params = randomSeedParams(5);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

// The measurement knobs (ExportTuning) live behind a bench-only entry point: two of them write graphs that abort
// onnxruntime on an empty x, so no user of the package can reach them.
describe('the tuning knobs are not part of the public export', () => {
  it('the package exports no tuned entry point', () => {
    expect(Object.keys(pkg)).toContain('exportSeedModel');
    expect(Object.keys(pkg).filter((k) => /tun/i.test(k))).toEqual([]);
  });

  it('exportSeedModel ignores tuning keys smuggled into its options (the guarded graph is written)', () => {
    for (const form of EXPORT_FORMS) {
      const smuggled = { form, fusedEmptyGuard: false, autoEmptyGuard: false, loop: true, autoProjection: 'hoisted' } as ExportOptions;
      expect(same(exportSeedModel(params, smuggled), exportSeedModel(params, { form })), form).toBe(true);
      expect(same(exportTunedSeedModel(params, { form }, { fusedEmptyGuard: false, autoEmptyGuard: false }), exportSeedModel(params, { form })), form).toBe(form === 'scan');
    }
  });

  it('the bench entry point with no tuning, or with the documented defaults, writes exactly the public export', () => {
    for (const form of EXPORT_FORMS) {
      for (const opset of [7, 8, 9, 11, 12, 13, 14, 17, 18, 21]) {
        for (const target of EXPORT_TARGETS) {
          const o: ExportOptions = { form, opset, target, hiddenStates: opset % 2 === 0, h0: opset > 12 };
          const publicBytes = exportSeedModel(params, o);
          const key = `${form}@${opset}/${target}`;
          expect(same(exportTunedSeedModel(params, o, {}), publicBytes), key).toBe(true);
          const defaults = { fusedEmptyGuard: true, autoEmptyGuard: true, loop: false, autoProjection: target === 'cpu' ? ('step' as const) : ('hoisted' as const) };
          expect(same(exportTunedSeedModel(params, o, defaults), publicBytes), key).toBe(true);
        }
      }
    }
  });
});
