import type * as TF from '@tensorflow/tfjs';
import { initTfjs, type TfjsBackendChoice } from './backend.ts';
import type { ModelConfig, TrainConfig } from './config.ts';
import { generateRandomData, type DataGenerator, type Dataset } from './data.ts';
import { UserError } from './errors.ts';
import { initParams } from './init.ts';
import { PARAM_NAMES, type ParamName, type SeedParams } from './params.ts';
import { Rng } from './rng.ts';
import { crossEntropy, forwardTensors, makeStepInputs, type ParamTensors } from './tfjs-model.ts';

/** Adam exactly as PyTorch's defaults (tfjs's own default epsilon is 1e-7, so all are set explicitly). */
export const ADAM = Object.freeze({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
/** The seed evaluates on 100 fresh samples. */
export const TEST_SAMPLES = 100;

export interface TrainOptions {
  config: ModelConfig;
  train: TrainConfig;
  backend?: TfjsBackendChoice;
  /** Data set generator; default the seed's generate_random_data. */
  data?: DataGenerator;
}

export interface TrainHooks {
  /** The seed's printed lines: `Epoch [5/20], Loss: 1.3926` every 5 epochs, then `Test Accuracy: 0.3000`. */
  onLine?(line: string): void;
  /** After every epoch, with the epoch's mean training loss (epoch counts from 1). */
  onEpoch?(epoch: number, loss: number): void;
}

export interface TrainResult {
  params: SeedParams;
  /** Mean training loss of each epoch (full batch: the loss the step was computed from, as the seed prints). */
  losses: number[];
  testAccuracy: number;
  /** tfjs backend actually used. */
  backend: string;
  /** Why the backend was chosen, when `auto` fell back (e.g. tfjs-node not installed). */
  backendNote: string;
  /** Wall time of the epochs (not data generation or evaluation). */
  seconds: number;
  /** samples × epochs / seconds. */
  samplesPerSecond: number;
}

function validate(c: ModelConfig, t: TrainConfig): void {
  const positive = { inputSize: c.inputSize, hiddenSize: c.hiddenSize, outputSize: c.outputSize, samples: t.samples, seqLen: t.seqLen, epochs: t.epochs };
  for (const [k, v] of Object.entries(positive)) if (!Number.isSafeInteger(v) || v < 1) throw new UserError(`${k} must be a positive integer, got ${v}`);
  if (!Number.isSafeInteger(t.batchSize) || t.batchSize < 0) throw new UserError(`batchSize must be 0 (full batch) or a positive integer, got ${t.batchSize}`);
  if (!Number.isSafeInteger(t.seed) || t.seed < 0 || t.seed > 0xffffffff) throw new UserError(`seed must be an integer in [0, 2^32), got ${t.seed}`);
  if (!(t.lr > 0) || !Number.isFinite(t.lr)) throw new UserError(`lr must be a positive number, got ${t.lr}`);
  if (c.outputSize < 2) throw new UserError(`outputSize must be at least 2 for classification, got ${c.outputSize}`);
}

/** Fisher–Yates with our Rng, so mini-batch order is reproducible from the seed. */
function shuffled(n: number, rng: Rng): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/**
 * The seed's training recipe on TensorFlow.js: data from the generator (default generate_random_data), weights
 * initialised as nn.Linear, Adam (lr, PyTorch's betas and eps) on mean softmax cross-entropy, full batch by
 * default, then accuracy on 100 fresh samples. The random stream follows the seed's order — training data,
 * initial weights, test data — and mini-batch shuffling draws from a second stream, so the same seed gives
 * bit-identical weights and losses on one machine and backend.
 */
export async function trainSeedModel(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { config: c, train: t } = opts;
  validate(c, t);
  const generate = opts.data ?? generateRandomData;
  const { tf, backend, note } = await initTfjs(opts.backend ?? 'auto');
  const rng = new Rng(t.seed);
  const shuffleRng = new Rng((t.seed ^ 0x9e3779b9) >>> 0);
  const trainSet = generate(rng, t.samples, t.seqLen, c.inputSize, c.outputSize);
  const init = initParams(c, rng);

  const vars = Object.fromEntries(
    PARAM_NAMES.map((n) => {
      const value = tf.tensor(init[n].data, init[n].shape);
      const v = tf.variable(value);
      value.dispose(); // the variable holds its own reference to the data
      return [n, v];
    }),
  ) as Record<ParamName, TF.Variable>;
  const weights: ParamTensors = vars;
  const varList = PARAM_NAMES.map((n) => vars[n]);
  const optimizer = tf.train.adam(t.lr, ADAM.beta1, ADAM.beta2, ADAM.epsilon);

  const batchSize = t.batchSize === 0 || t.batchSize >= t.samples ? t.samples : t.batchSize;
  const batchTensors = (rows?: ArrayLike<number>, count = t.samples) => {
    const inputs = makeStepInputs(tf, trainSet.x, count, t.seqLen, c.inputSize, rows);
    const labels = rows ? Int32Array.from({ length: count }, (_, i) => trainSet.labels[rows[i]!]!) : trainSet.labels;
    const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), c.outputSize), 'float32') as TF.Tensor2D);
    return { inputs, oneHot, count, tensors: [...inputs.xHat, ...inputs.xHatT, oneHot] };
  };
  // Full batch: the one batch is built once and reused every epoch.
  const fullBatch = batchSize === t.samples ? batchTensors() : undefined;

  const losses: number[] = [];
  const start = performance.now();
  try {
    for (let epoch = 1; epoch <= t.epochs; epoch++) {
      let sum = 0;
      const order = fullBatch ? undefined : shuffled(t.samples, shuffleRng);
      for (let from = 0; from < t.samples; from += batchSize) {
        const count = Math.min(batchSize, t.samples - from);
        const batch = fullBatch ?? batchTensors(order!.subarray(from, from + count), count);
        const loss = optimizer.minimize(() => crossEntropy(tf, forwardTensors(tf, weights, batch.inputs, batch.count).logits, batch.oneHot), true, varList)!;
        sum += (await loss.data())[0]! * count;
        loss.dispose();
        if (!fullBatch) tf.dispose(batch.tensors);
      }
      const mean = sum / t.samples;
      losses.push(mean);
      hooks.onEpoch?.(epoch, mean);
      if (epoch % 5 === 0) hooks.onLine?.(`Epoch [${epoch}/${t.epochs}], Loss: ${mean.toFixed(4)}`);
    }
    const seconds = (performance.now() - start) / 1000;

    const params = {} as SeedParams;
    for (const n of PARAM_NAMES) params[n] = { shape: [...init[n].shape], data: (await vars[n].data()) as Float32Array };

    const testSet: Dataset = generate(rng, TEST_SAMPLES, t.seqLen, c.inputSize, c.outputSize);
    const predicted = tf.tidy(() => tf.argMax(forwardTensors(tf, weights, makeStepInputs(tf, testSet.x, TEST_SAMPLES, t.seqLen, c.inputSize), TEST_SAMPLES).logits, 1));
    const pred = await predicted.data();
    predicted.dispose();
    let correct = 0;
    for (let i = 0; i < TEST_SAMPLES; i++) if (pred[i] === testSet.labels[i]) correct++;
    const testAccuracy = correct / TEST_SAMPLES;
    hooks.onLine?.(`Test Accuracy: ${testAccuracy.toFixed(4)}`);
    return { params, losses, testAccuracy, backend, backendNote: note, seconds, samplesPerSecond: (t.samples * t.epochs) / seconds };
  } finally {
    if (fullBatch) tf.dispose(fullBatch.tensors);
    tf.dispose(varList);
    optimizer.dispose();
  }
}
