import { Command, CommanderError } from 'commander';
import cliPackage from '../package.json' with { type: 'json' };
import type { Context } from './context.ts';
import { EXIT, describeError, oneLine } from './exit-codes.ts';
import type { Io } from './io.ts';
import { benchCommand } from './commands/bench.ts';
import { demoCommand } from './commands/demo.ts';
import { doctorCommand } from './commands/doctor.ts';
import { exportCommand } from './commands/export.ts';
import { inspectCommand } from './commands/inspect.ts';
import { trainCommand } from './commands/train.ts';
import { verifyCommand } from './commands/verify.ts';

export const PROGRAM_NAME = 'gru-onnx';

/** The commander tree. Parse errors throw CommanderError (exitOverride) so main() decides every exit code. */
export function buildProgram(ctx: Context): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Train the seed GRU, export it to ONNX, and verify the ONNX graph on every onnxruntime target.')
    .version(cliPackage.version, '--version', 'print the version')
    .option('--verbose', 'stack traces on errors')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 all checks passed, 1 parity mismatch, 2 bad input or usage, 3 a --require'd backend is
unavailable, 70 internal error (a bug in gru-onnx), 130 interrupted (SIGINT).

Examples:
  $ pnpm gru-onnx demo                       # train, export, verify, report into gru-onnx-out/
  $ pnpm gru-onnx verify --help`,
    );
  for (const make of [demoCommand, trainCommand, exportCommand, verifyCommand, inspectCommand, doctorCommand, benchCommand]) {
    program.addCommand(make(ctx));
  }
  configure(program, ctx.io);
  return program;
}

/** Same output routing and error handling on every command (commander does not inherit these to added commands). */
function configure(cmd: Command, io: Io): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => io.out(s),
    writeErr: (s) => io.err(s),
    // Commander's messages already start with `error:`; its "(Did you mean ...?)" goes on the same line.
    outputError: (s, write) => write(`${oneLine(s)}\n`),
  });
  for (const sub of cmd.commands) configure(sub, io);
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit code. Never throws: bad usage and
 * UserError give exit 2 with one `error:` line, other exceptions `error: internal:` and exit 70.
 */
export async function runCli(argv: string[], ctx: Context): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, `help CMD` and --version end with exit code 0; every other commander error is a usage error,
      // including `gru-onnx` with no command (help on stderr).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { line, code } = describeError(err, verbose);
    ctx.io.err(`${line}\n`);
    return code;
  }
}
