/** Seeded seed-model parameters for the exporter's tests (not a trained model). */
import { randomParams, SEED_CONFIG } from '@gru-onnx/model';
import type { ModelConfig, SeedParams } from '@gru-onnx/model';

/** Uniform in ±0.87 (standard deviation 0.5): wider than nn.Linear's init, so every gate saturates somewhere. */
export function randomSeedParams(seed: number, config: ModelConfig = SEED_CONFIG): SeedParams {
  return randomParams(config, seed, 0.87);
}
