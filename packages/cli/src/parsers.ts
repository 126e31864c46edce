import { InvalidArgumentError } from 'commander';
import { LIMITS } from '@gru-onnx/model';
import { BACKENDS, type BackendName } from '@gru-onnx/verify';

/**
 * Option-argument parsers for commander. Each throws InvalidArgumentError, which commander turns into
 * `error: option '--epochs <n>' argument '-1' is invalid. must be an integer from 1 to 100000` — the option is
 * always named.
 */

/** An integer in [min, max]. */
export function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** A finite number in [min, max] (or (min, max] with `exclusiveMin`), e.g. a learning rate or a tolerance. */
export function floatArg(min: number, max: number, opts: { exclusiveMin?: boolean } = {}): (value: string) => number {
  const range = `${opts.exclusiveMin ? 'greater than' : 'at least'} ${min} and at most ${max}`;
  return (value) => {
    const n = value.trim() === '' ? NaN : Number(value);
    const low = opts.exclusiveMin ? n > min : n >= min;
    if (!Number.isFinite(n) || !low || n > max) throw new InvalidArgumentError(`Must be a number ${range}`);
    return n;
  };
}

/** One entry of a shape sweep: batch B and sequence length T. */
export interface SweepShape {
  batch: number;
  seq: number;
}

/** The most either dimension of `--shapes` may be; the libraries apply their own memory limits as well. */
export const MAX_SHAPE_DIM = LIMITS.sweepDim;

/** `--shapes 1x10,64x257`: a comma-separated list of BxT, each at least 1, no duplicates. */
export function parseShapes(value: string): SweepShape[] {
  const shapes: SweepShape[] = [];
  const seen = new Set<string>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(part);
    if (!m) throw new InvalidArgumentError(`'${part}' is not BxT (batch x sequence length), e.g. 1x10,64x257`);
    const batch = Number(m[1]);
    const seq = Number(m[2]);
    for (const [what, n] of [['batch', batch], ['sequence length', seq]] as const) {
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SHAPE_DIM) {
        throw new InvalidArgumentError(`'${part.trim()}': ${what} must be from 0 to ${MAX_SHAPE_DIM}`);
      }
    }
    const key = `${batch}x${seq}`;
    if (seen.has(key)) throw new InvalidArgumentError(`'${key}' is listed twice`);
    seen.add(key);
    shapes.push({ batch, seq });
  }
  return shapes;
}

/** `--backends ort-cpu,ort-wasm`: names from BACKENDS, no duplicates; `all` means every backend. */
export function parseBackends(value: string): BackendName[] {
  const names = value.split(',').map((s) => s.trim());
  if (names.length === 1 && names[0] === 'all') return [...BACKENDS];
  const out: BackendName[] = [];
  for (const name of names) {
    const backend = BACKENDS.find((b) => b === name);
    if (!backend) throw new InvalidArgumentError(`unknown backend '${name}' (backends: ${BACKENDS.join(', ')}, or all)`);
    if (out.includes(backend)) throw new InvalidArgumentError(`backend '${name}' is listed twice`);
    out.push(backend);
  }
  return out;
}
