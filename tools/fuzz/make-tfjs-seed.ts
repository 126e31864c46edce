/**
 * Writes tools/fuzz/seeds/tfjs-gru/ (model.json + weights.bin): a small tfjs-layers GRU → Dense, saved by tfjs
 * itself so the fuzzer mutates the exact format tfjs writes. Committed; rerun only to refresh it:
 *   npx tsx tools/fuzz/make-tfjs-seed.ts
 */
import { fileURLToPath } from 'node:url';
import { initTfjs, saveTfjsLayersModel } from '@gru-onnx/model';

const { tf } = await initTfjs('cpu');
const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
const m = tf.sequential();
m.add(tf.layers.gru({ units: 4, inputShape: [null, 3], kernelInitializer: init(1), recurrentInitializer: init(2), biasInitializer: init(3) }));
m.add(tf.layers.dense({ units: 2, kernelInitializer: init(4), biasInitializer: init(5) }));
await saveTfjsLayersModel(tf, m, fileURLToPath(new URL('./seeds/tfjs-gru', import.meta.url)));
