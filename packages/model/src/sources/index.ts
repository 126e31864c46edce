export * from './source-model.ts';
export * from './pytorch-gru.ts';
export * from './tfjs-layers.ts';
export * from './tfjs-save.ts';
