export * from './source-model.ts';
export * from './pytorch-recurrent.ts';
export * from './tfjs-cells.ts';
export * from './tfjs-layers.ts';
export * from './tfjs-save.ts';
