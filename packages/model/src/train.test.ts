import { describe, expect, it } from 'vitest';
import { SEED_CONFIG, SEED_TRAIN, type TrainConfig } from './config.ts';
import { generateRandomData, generateSumSignTask } from './data.ts';
import { UserError } from './errors.ts';
import { initParams } from './init.ts';
import { PARAM_NAMES } from './params.ts';
import { referenceForward } from './reference.ts';
import { Rng } from './rng.ts';
import { tfjsLossAndGrads } from './tfjs-model.ts';
import { ADAM, trainSeedModel } from './train.ts';

const small: TrainConfig = { ...SEED_TRAIN, samples: 300, epochs: 10, seed: 5 };

describe('trainSeedModel', () => {
  it('prints the seed lines through hooks and is bit-reproducible from the seed', async () => {
    const lines: string[] = [];
    const epochs: number[] = [];
    const a = await trainSeedModel({ config: SEED_CONFIG, train: small, backend: 'wasm' }, { onLine: (l) => lines.push(l), onEpoch: (e) => epochs.push(e) });
    const b = await trainSeedModel({ config: SEED_CONFIG, train: small, backend: 'wasm' });
    expect(a.backend).toBe('wasm');
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(lines).toEqual([
      `Epoch [5/10], Loss: ${a.losses[4]!.toFixed(4)}`,
      `Epoch [10/10], Loss: ${a.losses[9]!.toFixed(4)}`,
      `Test Accuracy: ${a.testAccuracy.toFixed(4)}`,
    ]);
    expect(lines[0]).toMatch(/^Epoch \[5\/10\], Loss: \d\.\d{4}$/);
    expect(b.losses).toEqual(a.losses);
    for (const n of PARAM_NAMES) expect(Buffer.from(b.params[n].data.buffer).equals(Buffer.from(a.params[n].data.buffer))).toBe(true);
    expect(b.testAccuracy).toBe(a.testAccuracy);
    // A different seed gives a different model.
    const c = await trainSeedModel({ config: SEED_CONFIG, train: { ...small, seed: 6 }, backend: 'wasm' });
    expect(c.losses[0]).not.toBe(a.losses[0]);
  });

  it("follows the seed's order (data, then nn.Linear init) and takes one exact Adam step per full-batch epoch", async () => {
    const train = { ...small, epochs: 1, lr: 1e-3 };
    const r = await trainSeedModel({ config: SEED_CONFIG, train, backend: 'wasm' });
    // Rebuild what the trainer should have started from, independently of it.
    const rng = new Rng(train.seed);
    const data = generateRandomData(rng, train.samples, train.seqLen, 8, 4);
    const p0 = initParams(SEED_CONFIG, rng);
    const logits = referenceForward(p0, data.x, train.samples, train.seqLen).logits;
    let ce = 0;
    for (let s = 0; s < train.samples; s++) {
      const row = Array.from(logits.subarray(s * 4, s * 4 + 4));
      ce += Math.log(row.reduce((t, v) => t + Math.exp(v), 0)) - row[data.labels[s]!]!;
    }
    expect(Math.abs(r.losses[0]! - ce / train.samples)).toBeLessThanOrEqual(1e-5);
    // Adam's first step is lr · g / (|g| + eps) (bias corrections cancel): each weight moves by lr · sign(g).
    const { grads } = await tfjsLossAndGrads(p0, data.x, data.labels, train.samples, train.seqLen, 'wasm');
    for (const n of PARAM_NAMES) {
      r.params[n].data.forEach((v, i) => {
        const g = grads[n].data[i]!;
        const step = (train.lr * g) / (Math.abs(g) + ADAM.epsilon);
        expect(Math.abs(p0[n].data[i]! - step - v), `${n}[${i}]`).toBeLessThanOrEqual(1e-7);
      });
    }
  });

  it('mini-batches are shuffled reproducibly and change the result', async () => {
    const train = { ...small, epochs: 2, batchSize: 64 };
    const a = await trainSeedModel({ config: SEED_CONFIG, train, backend: 'wasm' });
    const b = await trainSeedModel({ config: SEED_CONFIG, train, backend: 'wasm' });
    const full = await trainSeedModel({ config: SEED_CONFIG, train: { ...train, batchSize: 0 }, backend: 'wasm' });
    expect(b.losses).toEqual(a.losses);
    expect(Array.from(b.params['fc.weight'].data)).toEqual(Array.from(a.params['fc.weight'].data));
    expect(a.losses[1]).not.toBe(full.losses[1]);
  });

  it('learns a learnable task: sign of the summed first feature, ≥ 90% test accuracy', async () => {
    const r = await trainSeedModel({
      config: { ...SEED_CONFIG, outputSize: 2 },
      train: { samples: 2000, seqLen: 10, epochs: 5, lr: 1e-2, batchSize: 64, seed: 1 },
      backend: 'wasm',
      data: generateSumSignTask,
    });
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! / 2);
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('rejects bad options with a UserError', async () => {
    await expect(trainSeedModel({ config: SEED_CONFIG, train: { ...small, samples: 0 } })).rejects.toThrow(new UserError('samples must be a positive integer, got 0'));
    await expect(trainSeedModel({ config: SEED_CONFIG, train: { ...small, lr: -1 } })).rejects.toThrow(/^lr must be a positive number/);
    await expect(trainSeedModel({ config: SEED_CONFIG, train: { ...small, batchSize: 2.5 } })).rejects.toThrow(/^batchSize must be 0/);
  });
});
