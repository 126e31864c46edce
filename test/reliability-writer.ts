/**
 * Child process for test/reliability-atomic.test.ts: writes one kind of output (checkpoint, model, report,
 * bundle) to the same final name over and over, alternating two contents, until it is killed. Prints `wrote N`
 * after each complete write so the test knows when at least one finished.
 *   node --import tsx test/reliability-writer.ts KIND DIR
 */
import { join } from 'node:path';
import { initParams, Rng, saveCheckpoint } from '@gru-onnx/model';
import { exportSeedModel, saveModel } from '@gru-onnx/onnx';
import { referenceBundleCases, saveBundle, verifyModel, writeReports } from '@gru-onnx/verify';

const [kind, dir] = process.argv.slice(2) as [string, string];
// Large enough that one write takes a while (about 4 MB of weights), so a kill lands mid-write often.
const config = { inputSize: 64, hiddenSize: 512, outputSize: 16 };
const versions = [1, 2].map((seed) => initParams(config, new Rng(seed)));
const models = versions.map((p) => exportSeedModel(p, { form: 'fused' }));

async function writeOnce(i: number): Promise<void> {
  const params = versions[i % 2]!;
  if (kind === 'checkpoint') saveCheckpoint(join(dir, 'model.safetensors'), { config, params, metadata: { version: String(i) } });
  else if (kind === 'model') saveModel(join(dir, 'model.onnx'), models[i % 2]!);
  else if (kind === 'report') {
    const report = await verifyModel({ model: models[i % 2]!, params, runners: ['reference'], shapes: [{ batch: 1, seq: 2 }], edgeCases: false });
    writeReports(join(dir, 'report'), report);
  } else if (kind === 'bundle') {
    saveBundle(join(dir, 'bundle'), models[i % 2]!, referenceBundleCases(models[i % 2]!, params, { shapes: [{ batch: 2, seq: 8 }, { batch: 4, seq: 4 }], edgeCases: false }));
  } else throw new Error(`unknown kind ${kind}`);
}

for (let i = 0; ; i++) {
  await writeOnce(i);
  process.stdout.write(`wrote ${i}\n`);
}
