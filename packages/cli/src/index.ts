/**
 * `@gru-onnx/cli`: the `gru-onnx` command as a library, so tests and other tools can run it in-process.
 * `bin.ts` is the executable shim.
 */
import type { Context } from './context.ts';
import { processIo, type Io } from './io.ts';
import { runCli } from './program.ts';

export { EXIT } from './exit-codes.ts';
export { buildProgram, PROGRAM_NAME } from './program.ts';
export { intArg, floatArg, parseShapes, parseBackends, type SweepShape } from './parsers.ts';
export type { Io } from './io.ts';
export type { Context } from './context.ts';

/** Runs `gru-onnx` with `argv` (arguments after the program name); resolves to the exit code. */
export function main(argv: string[], opts: { io?: Io; signal?: AbortSignal } = {}): Promise<number> {
  const ctx: Context = { io: opts.io ?? processIo(), signal: opts.signal ?? new AbortController().signal, exitCode: 0 };
  return runCli(argv, ctx);
}
