import { describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle.ts';
import { verifyModel } from '../verify.ts';

const FIXTURE = new URL('../../../../fixtures/localize/nll-loss-7d-ort-wasm/', import.meta.url).pathname;

// A real divergence kept as found (fixtures/localize/README.md): the repro bundle must still show it.
describe('a real ort-cpu vs ort-wasm divergence (fixtures/localize/nll-loss-7d-ort-wasm)', () => {
  it('ort-cpu matches its stored outputs, ort-wasm does not, and --localize names the one node; it reproduces alone', async () => {
    const r = await verifyModel({ bundle: loadBundle(FIXTURE), runners: ['ort-cpu', 'ort-wasm'], localize: {} });
    expect(r.backends.map((b) => b.status)).toEqual(['pass', 'fail']);
    const l = r.backends[1]!.localization!;
    expect(l.node).toMatchObject({ opType: 'NegativeLogLikelihoodLoss', where: 'main graph', attributes: { reduction: '"mean"' } });
    expect(l.node?.inputs.map((i) => i.dims)).toEqual([[3, 5, 6, 6, 5, 3, 4], [3, 6, 6, 5, 3, 4], [5]]);
    expect(l.repro?.verdict).toBe('reproduces alone');
  }, 60_000);
});
