import { Command } from 'commander';
import type { Context } from '../context.ts';
import { NotImplementedError } from '../exit-codes.ts';
import { requirePath } from '../files.ts';

interface InspectOpts {
  json?: boolean;
}

export function inspectCommand(ctx: Context): Command {
  return new Command('inspect')
    .description('what is inside an ONNX model: opsets, inputs and outputs with dimensions, op counts, parameters, metadata')
    .argument('<file.onnx>', 'the model to read')
    .option('--json', 'print the summary as JSON on stdout (schema: packages/onnx summary schema)')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Examples:
  $ pnpm gru-onnx inspect gru-onnx-out/model.onnx
  $ pnpm gru-onnx inspect model.onnx --json | jq .opsetImports`,
    )
    .action((file: string, _opts: InspectOpts) => {
      requirePath('FILE.onnx', file, 'file');
      void ctx;
      throw new NotImplementedError('inspect (summarizeModel from @gru-onnx/onnx has not landed)');
    });
}
