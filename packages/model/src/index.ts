export * from './config.ts';
export * from './errors.ts';
export * from './params.ts';
export * from './rng.ts';
export * from './atomic.ts';
export * from './reference.ts';
