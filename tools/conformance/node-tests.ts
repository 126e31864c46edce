/**
 * ONNX node-test conformance (README "Conformance"):
 *   npx tsx tools/conformance/node-tests.ts                 # all 932 bundles, ort-cpu and ort-wasm
 *   npx tsx tools/conformance/node-tests.ts --only test_abs,test_gru_defaults --json
 *   npx tsx tools/conformance/node-tests.ts --atol 1e-7 --rtol 1e-3      # ONNX's own backend-test tolerance
 * Needs Debian's libonnx-testdata (apt-get install libonnx-testdata) or --dir DIR. Prints one line per bundle that
 * did not pass, then the counts; --json writes every result.
 */
import { parseArgs } from 'node:util';
import { counts, CONFORMANCE_BACKENDS, NODE_TESTS_DIR, nodeTestNames, OUTCOMES, runConformance } from './conformance.ts';

const { values } = parseArgs({
  options: { dir: { type: 'string', default: NODE_TESTS_DIR }, only: { type: 'string' }, json: { type: 'boolean', default: false }, atol: { type: 'string' }, rtol: { type: 'string' } },
});
const override = { ...(values.atol ? { atol: Number(values.atol) } : {}), ...(values.rtol ? { rtol: Number(values.rtol) } : {}) };
const all = nodeTestNames(values.dir);
if (all.length === 0) {
  console.error(`error: --dir ${values.dir}: no test_* bundles (apt-get install libonnx-testdata)`);
  process.exit(2);
}
const names = values.only ? values.only.split(',') : all;
const t0 = performance.now();
const results = await runConformance(values.dir, names, {
  override,
  onResult: (r) => {
    for (const [b, o] of Object.entries(r.outcomes)) if (o.outcome !== 'pass') console.error(`${r.name} ${b}: ${o.outcome}: ${o.detail.slice(0, 300)}`);
  },
});
const c = counts(results);
if (values.json) {
  console.log(JSON.stringify({ dir: values.dir, bundles: names.length, counts: c, results }, null, 1));
} else {
  console.log(`${names.length} bundles from ${values.dir}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(['backend', ...OUTCOMES].join('\t'));
  for (const b of CONFORMANCE_BACKENDS) console.log([b, ...OUTCOMES.map((o) => c[b]![o])].join('\t'));
}
