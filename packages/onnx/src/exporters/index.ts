import { UserError, type SourceModel } from '@gru-onnx/model';
import { exportSeedModel, type ExportOptions } from '../export-seed.ts';
import { exportPytorchGruModel } from './pytorch-gru.ts';
import { pytorchLstmChain } from './pytorch-lstm.ts';
import { pytorchRnnChain } from './pytorch-rnn.ts';
import { exportTfjsLayersModel } from './tfjs-layers.ts';
import { exportRecurrentChain, type ChainExportOptions } from './recurrent-chain.ts';

export * from './recurrent-chain.ts';
export * from './pytorch-chain.ts';
export * from './pytorch-gru.ts';
export * from './pytorch-lstm.ts';
export * from './pytorch-rnn.ts';
export * from './tfjs-layers.ts';

/**
 * ONNX bytes for a model of any source kind (what `export --weights FILE` writes). Every kind takes every export
 * option (form, target, opset, hidden_states, h0, h_n); imports take h0 and give h_n in PyTorch's
 * [layers·dirs, batch, hidden] layout (recurrent-chain.ts). `autoBatchThreshold` is the seed's alone.
 */
export function exportSourceModel(source: SourceModel, options: ExportOptions = {}): Uint8Array {
  if (source.kind === 'seed') return exportSeedModel(source.params, options);
  if (options.autoBatchThreshold !== undefined) throw new UserError(`autoBatchThreshold is only available for the seed model; a ${source.kind} model's auto form follows its cells (recurrent-chain.ts)`);
  const { form, target, opset, hiddenStates, hN, h0, metadata } = options;
  const imports: ChainExportOptions = { form, target, opset, hiddenStates, hN, h0, metadata };
  switch (source.kind) {
    case 'pytorch-gru':
      return exportPytorchGruModel(source, imports);
    case 'pytorch-lstm':
      return exportRecurrentChain(pytorchLstmChain(source), imports);
    case 'pytorch-rnn':
      return exportRecurrentChain(pytorchRnnChain(source), imports);
    case 'tfjs-layers':
      return exportTfjsLayersModel(source, imports);
  }
}
