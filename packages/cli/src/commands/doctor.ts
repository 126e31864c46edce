import { Command } from 'commander';
import type { Context } from '../context.ts';
import { NotImplementedError } from '../exit-codes.ts';

interface DoctorOpts {
  json?: boolean;
}

export function doctorCommand(ctx: Context): Command {
  return new Command('doctor')
    .description('each backend: available or why not, versions, thread settings, and the exact steps to enable it')
    .option('--json', 'print the probes as JSON on stdout')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Always exits 0 when the probes ran: an unavailable backend is information, not an error (use
\`verify --require\` to make one mandatory).

Examples:
  $ pnpm gru-onnx doctor
  $ pnpm gru-onnx doctor --json | jq '.backends[] | select(.available | not)'`,
    )
    .action((_opts: DoctorOpts) => {
      void ctx;
      throw new NotImplementedError('doctor (probeAll from @gru-onnx/verify has not landed)');
    });
}
