import type { ModelConfig } from './config.ts';
import { UserError } from './errors.ts';

/** A float32 tensor in row-major order. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Parameter names of the seed's PyTorch `MyModel.state_dict()`, in its registration order.
 * The x-maps carry biases; the h-maps are `bias=False`.
 */
export const PARAM_NAMES = [
  'gru.W_xz.weight',
  'gru.W_xz.bias',
  'gru.W_hz.weight',
  'gru.W_xr.weight',
  'gru.W_xr.bias',
  'gru.W_hr.weight',
  'gru.W_xh.weight',
  'gru.W_xh.bias',
  'gru.W_hh.weight',
  'fc.weight',
  'fc.bias',
] as const;

export type ParamName = (typeof PARAM_NAMES)[number];
export type SeedParams = Record<ParamName, Tensor>;

/** PyTorch shapes: nn.Linear(in, out).weight is [out, in]. */
export function paramShapes(c: ModelConfig): Record<ParamName, number[]> {
  const { inputSize: I, hiddenSize: H, outputSize: O } = c;
  return {
    'gru.W_xz.weight': [H, I],
    'gru.W_xz.bias': [H],
    'gru.W_hz.weight': [H, H],
    'gru.W_xr.weight': [H, I],
    'gru.W_xr.bias': [H],
    'gru.W_hr.weight': [H, H],
    'gru.W_xh.weight': [H, I],
    'gru.W_xh.bias': [H],
    'gru.W_hh.weight': [H, H],
    'fc.weight': [O, H],
    'fc.bias': [O],
  };
}

/** Reads the sizes back from the parameter shapes. */
export function configFromParams(p: SeedParams): ModelConfig {
  const [H, I] = p['gru.W_xz.weight'].shape;
  const [O] = p['fc.weight'].shape;
  if (H === undefined || I === undefined || O === undefined) throw new UserError('gru.W_xz.weight / fc.weight: missing dimensions');
  return { inputSize: I, hiddenSize: H, outputSize: O };
}
