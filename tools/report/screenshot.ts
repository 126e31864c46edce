/**
 * Makes docs/report-screenshot.png, the picture of the HTML report in the README: verifies the PyTorch-trained
 * seed model (fixtures/seed-pytorch/model.safetensors), exported with hidden_states, on the reference and the
 * onnxruntime backends, and renders the HTML report in headless Chromium as a full-page PNG.
 *
 *   npx tsx tools/report/screenshot.ts [--backends reference,ort-cpu,ort-wasm,browser-wasm,browser-webgpu] [--out docs/report-screenshot.png]
 */
import { parseArgs } from 'node:util';
import { loadCheckpoint, writeFileAtomic } from '@gru-onnx/model';
import { exportSeedModel } from '@gru-onnx/onnx';
import { consoleTable, htmlReport, isBackendName, renderHtmlToPng, verifyModel } from '@gru-onnx/verify';
import type { BackendName } from '@gru-onnx/verify';

const { values } = parseArgs({
  strict: true,
  options: {
    out: { type: 'string', default: 'docs/report-screenshot.png' },
    backends: { type: 'string', default: 'reference,ort-cpu,ort-wasm,browser-wasm,browser-webgpu' },
    weights: { type: 'string', default: 'fixtures/seed-pytorch/model.safetensors' },
  },
});
const out = values.out;
const backends = values.backends.split(',');
const names = backends.filter(isBackendName) as BackendName[];
if (names.length !== backends.length) throw new Error(`unknown backend in ${backends.join(',')}`);

const { params } = loadCheckpoint(values.weights);
const model = exportSeedModel(params, { form: 'auto', hiddenStates: true, hN: true });
const report = await verifyModel({
  model,
  params,
  runners: names,
  onCase: (e) => process.stderr.write(`\r${e.backend} ${e.index}/${e.total} ${e.caseId}        `),
});
process.stderr.write('\n');
console.log(consoleTable(report));
writeFileAtomic(out, await renderHtmlToPng(htmlReport(report)));
console.log(`wrote ${out}`);
