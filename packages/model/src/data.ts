import type { Rng } from './rng.ts';

/** A labelled set: x [samples, seqLen, inputSize] row-major float32, labels [samples] in [0, outputSize). */
export interface Dataset {
  x: Float32Array;
  labels: Int32Array;
  samples: number;
  seqLen: number;
  inputSize: number;
}

/** Makes a data set from a generator; the trainer calls it for the training set and for the 100 test samples. */
export type DataGenerator = (rng: Rng, samples: number, seqLen: number, inputSize: number, outputSize: number) => Dataset;

/**
 * The seed's `generate_random_data`: x ~ N(0, 1), labels uniform in [0, output). Labels are independent of x,
 * so nothing can be learned: test accuracy stays near 1/output, as in the seed's printout.
 */
export const generateRandomData: DataGenerator = (rng, samples, seqLen, inputSize, outputSize) => {
  const x = rng.normals(samples * seqLen * inputSize);
  const labels = new Int32Array(samples);
  for (let i = 0; i < samples; i++) labels[i] = rng.int(outputSize);
  return { x, labels, samples, seqLen, inputSize };
};

/**
 * A learnable task with the seed's shapes: x ~ N(0, 1); the label says which quantile of Σ_t x[t, 0] (the first
 * feature summed over time) the sample falls in, so with 2 classes it is the sign of that sum. The model must carry
 * a running sum through the recurrence to solve it.
 */
export const generateSumSignTask: DataGenerator = (rng, samples, seqLen, inputSize, outputSize) => {
  const x = rng.normals(samples * seqLen * inputSize);
  const labels = new Int32Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let t = 0; t < seqLen; t++) sum += x[(s * seqLen + t) * inputSize]!;
    // Σ of seqLen standard normals is N(0, seqLen); normalise, then cut N(0, 1) into equal-probability bins.
    const u = normalCdf(sum / Math.sqrt(seqLen));
    labels[s] = Math.min(outputSize - 1, Math.floor(u * outputSize));
  }
  return { x, labels, samples, seqLen, inputSize };
};

/** Φ(v) via the Abramowitz–Stegun erf approximation (|error| < 1.5e-7, plenty for binning labels). */
function normalCdf(v: number): number {
  const z = Math.abs(v) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return v >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
