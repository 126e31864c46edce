export * from './proto.ts';
export * from './builder.ts';
export * from './checker.ts';
// The seed's exporter without its bench-only entry points (exportTunedSeedModel, buildTunedSeedModel).
export { buildSeedModel, DEFAULT_AUTO_BATCH_THRESHOLD, DEFAULT_OPSET, EXPORT_FORMS, EXPORT_TARGETS, exportSeedModel, MAX_AUTO_BATCH_THRESHOLD, saveModel } from './export-seed.ts';
export type { ExportForm, ExportOptions, ExportTarget } from './export-seed.ts';
export * from './matrix.ts';
export * from './exporters/index.ts';
export * from './reader.ts';
export * from './surgery.ts';
