export * from './proto.ts';
export * from './builder.ts';
export * from './checker.ts';
export * from './export-seed.ts';
export * from './exporters/index.ts';
export * from './reader.ts';
export * from './surgery.ts';
