/**
 * A fixed sample of ONNX's node-test bundles (Debian's libonnx-testdata; `.ci/run` installs it) through
 * runConformance, what `verify --bundle` does, on ort-cpu and ort-wasm. The full run's counts are in the README
 * (`npx tsx tools/conformance/node-tests.ts`); this sample covers every dtype class and every outcome.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleTable, loadBundle, verifyModel } from '@gru-onnx/verify';
import { NODE_TESTS_DIR, nodeTestNames, randomOps, runConformance, type Outcome } from './conformance.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** bundle → the outcome on both backends (established by the full run, 2026-11-29; README "Conformance"). */
const SAMPLE: Record<string, Outcome> = {
  test_abs: 'pass',
  test_add_uint8: 'pass',
  test_and_bcast4v4d: 'pass',
  test_argmax_default_axis_example: 'pass',
  test_cast_FLOAT_to_FLOAT16: 'pass',
  test_cast_FLOAT16_to_DOUBLE: 'pass',
  test_castlike_FLOAT_to_STRING: 'mismatch',
  test_equal: 'pass',
  test_gru_defaults: 'pass',
  test_gru_seq_length: 'pass',
  test_lstm_with_peepholes: 'pass',
  test_if: 'pass',
  test_loop11: 'pass',
  test_scan9_sum: 'pass',
  test_isnan: 'pass',
  test_isinf: 'pass',
  test_mod_mixed_sign_int64: 'pass',
  test_bitshift_right_uint64: 'pass',
  test_nonzero_example: 'pass',
  test_range_int32_type_negative_delta: 'pass',
  test_strnormalizer_nostopwords_nochangecase: 'pass',
  test_gather_elements_negative_indices: 'pass',
  test_where_long_example: 'pass',
  test_bernoulli_seed: 'nondeterministic',
  test_training_dropout_mask: 'nondeterministic',
  test_sequence_insert_at_back: 'js-api-limit',
  test_optional_has_element: 'js-api-limit',
  test_cast_FLOAT_to_BFLOAT16: 'runtime-error',
  test_gru_batchwise: 'runtime-error',
  test_adam: 'runtime-error',
  test_hannwindow: 'mismatch',
};

describe('ONNX node-test conformance (fixed sample)', () => {
  it('libonnx-testdata is installed (apt-get install libonnx-testdata; .ci/run does it)', () => {
    expect(existsSync(NODE_TESTS_DIR)).toBe(true);
    expect(nodeTestNames().length).toBe(932);
  });

  it('every sampled bundle is read and checked by gru-onnx, and ends as the full run found', async () => {
    const results = await runConformance(NODE_TESTS_DIR, Object.keys(SAMPLE));
    const got = Object.fromEntries(results.map((r) => [r.name, [r.outcomes['ort-cpu']!.outcome, r.outcomes['ort-wasm']!.outcome]]));
    const want = Object.fromEntries(Object.entries(SAMPLE).map(([n, o]) => [n, [o, o]]));
    expect(got).toEqual(want);
    const byName = new Map(results.map((r) => [r.name, r]));
    // A runtime error keeps onnxruntime's own words.
    expect(byName.get('test_gru_batchwise')!.outcomes['ort-cpu']!.detail).toMatch(/deep_cpu_gru/);
    // A mismatch names the element and both values.
    expect(byName.get('test_hannwindow')!.outcomes['ort-wasm']!.detail).toMatch(/first at \[\d+\]: got [\d.]+, expected [\d.]+/);
  }, 120_000);

  it('finds random ops anywhere in the graph, Dropout only with a training_mode input', () => {
    const ops = (n: string) => randomOps(new Uint8Array(readFileSync(join(NODE_TESTS_DIR, n, 'model.onnx'))));
    expect(ops('test_bernoulli')).toEqual(['Bernoulli']);
    expect(ops('test_training_dropout')).toEqual(['Dropout (training_mode)']);
    expect(ops('test_dropout_default')).toEqual([]);
    expect(ops('test_abs')).toEqual([]);
  });

  it("verify's report names a model's random ops, and the console says its outputs differ by design", async () => {
    const r = await verifyModel({ bundle: loadBundle(join(NODE_TESTS_DIR, 'test_bernoulli_seed')), runners: ['ort-cpu'] });
    expect(r.model.randomOps).toEqual(['Bernoulli']);
    expect(consoleTable(r)).toContain('note: the model draws random numbers (Bernoulli): its outputs differ between runs and runtimes by design');
    const plain = await verifyModel({ bundle: loadBundle(join(NODE_TESTS_DIR, 'test_abs')), runners: ['ort-cpu'] });
    expect(plain.model.randomOps).toBeUndefined();
  }, 60_000);
});
