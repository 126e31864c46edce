import type { ModelConfig } from './config.ts';
import { PARAM_NAMES, paramShapes, type SeedParams } from './params.ts';
import { Rng } from './rng.ts';

/**
 * nn.Linear's default initialisation: weight and bias both uniform in ±1/sqrt(fan_in), fan_in being the
 * layer's input size (the weight's second dimension). Parameters are drawn in PARAM_NAMES order, which is the
 * order PyTorch constructs them in (the numbers differ: our Rng is not torch's generator).
 */
export function initParams(config: ModelConfig, rng: Rng): SeedParams {
  const shapes = paramShapes(config);
  const fanIn: Record<string, number> = {};
  const params = {} as SeedParams;
  for (const name of PARAM_NAMES) {
    const shape = shapes[name];
    // A bias shares its layer's fan_in: input size for W_x*, hidden size for fc.
    const layer = name.slice(0, name.lastIndexOf('.'));
    if (shape.length === 2) fanIn[layer] = shape[1]!;
    const bound = 1 / Math.sqrt(fanIn[layer]!);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = rng.range(-bound, bound);
    params[name] = { shape: [...shape], data };
  }
  return params;
}

/**
 * Seeded parameters with the seed's shapes, for tests and benchmarks (not a trained model): nn.Linear's
 * initialisation (initParams), or, given `bound`, every value uniform in ±bound (drawn in PARAM_NAMES order).
 */
export function randomParams(config: ModelConfig, seed: number, bound?: number): SeedParams {
  const rng = new Rng(seed);
  if (bound === undefined) return initParams(config, rng);
  const shapes = paramShapes(config);
  const params = {} as SeedParams;
  for (const name of PARAM_NAMES) {
    const data = new Float32Array(shapes[name].reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.range(-bound, bound);
    params[name] = { shape: [...shapes[name]], data };
  }
  return params;
}
