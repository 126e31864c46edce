/** Seeded seed-model parameters for tests and benchmarks (not a trained model: scaled normals). */
import { paramShapes, Rng, SEED_CONFIG } from '@gru-onnx/model';
import type { ModelConfig, SeedParams, Tensor } from '@gru-onnx/model';

export function randomSeedParams(seed: number, config: ModelConfig = SEED_CONFIG, scale = 0.5): SeedParams {
  const rng = new Rng(seed);
  const out: Partial<Record<string, Tensor>> = {};
  for (const [name, shape] of Object.entries(paramShapes(config))) {
    const data = rng.normals(shape.reduce((a, d) => a * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * scale;
    out[name] = { shape, data };
  }
  return out as SeedParams;
}
