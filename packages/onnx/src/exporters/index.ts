import { UserError, type SourceModel } from '@gru-onnx/model';
import { exportSeedModel, type ExportOptions } from '../export-seed.ts';
import { exportPytorchGruModel } from './pytorch-gru.ts';
import { exportTfjsLayersModel } from './tfjs-layers.ts';

export * from './recurrent-chain.ts';
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
  const imports = { opset: options.opset, target: options.target, form: options.form, metadata: options.metadata };
  return source.kind === 'pytorch-gru' ? exportPytorchGruModel(source, imports) : exportTfjsLayersModel(source, imports);
}
