import type { ModelConfig } from './config.ts';
import { PARAM_NAMES, paramShapes, type SeedParams } from './params.ts';
import type { Rng } from './rng.ts';

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
