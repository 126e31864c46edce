import { Command, CommanderError, type Help } from 'commander';
import { createRequire } from 'node:module';
import type { Context } from './context.ts';
import { EXIT, describeError, oneLine } from './exit-codes.ts';
import type { Io } from './io.ts';
import { SUMMARY, type CommandName } from './commands/summary.ts';

export const PROGRAM_NAME = 'gru-onnx';
/** This package's version, read at run time: the same relative path from src/ and from the built dist/. */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/**
 * The commands in help order. A command's module is loaded only when that command runs or shows its own help:
 * together they load every package (0.2 s of a 0.3 s `--help`).
 */
const COMMANDS: Record<CommandName, { args?: string; load: () => Promise<(ctx: Context) => Command> }> = {
  demo: { load: async () => (await import('./commands/demo.ts')).demoCommand },
  train: { load: async () => (await import('./commands/train.ts')).trainCommand },
  export: { load: async () => (await import('./commands/export.ts')).exportCommand },
  verify: { load: async () => (await import('./commands/verify.ts')).verifyCommand },
  inspect: { args: '<file.onnx>', load: async () => (await import('./commands/inspect.ts')).inspectCommand },
  doctor: { load: async () => (await import('./commands/doctor.ts')).doctorCommand },
  bench: { load: async () => (await import('./commands/bench.ts')).benchCommand },
};

const isCommandName = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(COMMANDS, name);

/** The command `argv` names (`help CMD` names CMD); the top level's options take no values. */
function commandOf(argv: string[]): CommandName | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return isCommandName(name) ? name : undefined;
}

/**
 * The commander tree for `argv`: the command it names in full, the others as their help lines. Parse errors
 * throw CommanderError (exitOverride) so main() decides every exit code.
 */
export async function buildProgram(ctx: Context, argv: string[] = []): Promise<Command> {
  const program = new Command(PROGRAM_NAME)
    .description('Train the seed GRU, export it to ONNX, and verify the ONNX graph on every onnxruntime target.')
    .version(VERSION, '--version', 'print the version')
    .option('--verbose', 'stack traces on errors')
    .showSuggestionAfterError(true)
    // A placeholder has no options of its own; list it as its real command would be.
    .configureHelp({ subcommandTerm: (cmd) => [cmd.name(), '[options]', COMMANDS[cmd.name() as CommandName]?.args].filter(Boolean).join(' ') } satisfies Partial<Help>)
    .addHelpText(
      'after',
      `
Exit codes: 0 all checks passed, 1 parity mismatch, 2 bad input or usage, 3 a --require'd backend is
unavailable, 70 internal error (a bug in gru-onnx), 130 interrupted (SIGINT).

Examples:
  $ pnpm gru-onnx demo                       # train, export, verify, report into gru-onnx-out/
  $ pnpm gru-onnx verify --help`,
    );
  const wanted = commandOf(argv);
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    program.addCommand(name === wanted ? (await COMMANDS[name].load())(ctx) : new Command(name).description(SUMMARY[name]));
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
  try {
    const program = await buildProgram(ctx, argv);
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
