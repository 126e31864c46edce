import { UserError, type SourceModel } from '@gru-onnx/model';
import { exportSeedModel, type ExportOptions } from '../export-seed.ts';
import { exportPytorchGruModel } from './pytorch-gru.ts';
import { exportTfjsLayersModel } from './tfjs-layers.ts';

export * from './gru-chain.ts';
export * from './pytorch-gru.ts';
export * from './tfjs-layers.ts';

/**
 * ONNX bytes for a model of any source kind (what `export --weights FILE` writes). The seed takes every export
 * option; imports are always one fused GRU node per layer, so options that only the seed's exporter has
 * (`form` scan, `hiddenStates`, `hN`, `h0`) are refused by name rather than ignored.
 */
export function exportSourceModel(source: SourceModel, options: ExportOptions = {}): Uint8Array {
  if (source.kind === 'seed') return exportSeedModel(source.params, options);
  if (options.form === 'scan') throw new UserError(`--form scan is only available for the seed model; a ${source.kind} model exports as fused GRU nodes`);
  for (const [key, flag] of [['hiddenStates', '--hidden-states'], ['hN', '--h-n'], ['h0', '--h0']] as const) {
    if (options[key]) throw new UserError(`${flag} is only available for the seed model, not for a ${source.kind} model`);
  }
  // One fused GRU node per layer whatever the target; the file still records the target it was exported for.
  const imports = { opset: options.opset, metadata: { ...options.metadata, 'gru_onnx.target': options.target ?? 'cpu' } };
  return source.kind === 'pytorch-gru' ? exportPytorchGruModel(source, imports) : exportTfjsLayersModel(source, imports);
}
