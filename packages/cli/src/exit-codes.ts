import { UserError } from '@gru-onnx/model';

/**
 * Exit codes of the `gru-onnx` command (the contract in docs/architecture.md and the README).
 * 70 is sysexits' EX_SOFTWARE: an internal error is a bug in gru-onnx, not the user's input, so it must not
 * look like exit 2 to a CI script that treats 2 as "fix your arguments".
 * 130 is the shell's 128 + SIGINT, so `gru-onnx demo; echo $?` reads like any interrupted command.
 */
export const EXIT = Object.freeze({
  ok: 0,
  mismatch: 1,
  usage: 2,
  requiredUnavailable: 3,
  internal: 70,
  interrupted: 130,
});

/** Thrown when SIGINT stopped a command; main() maps it to exit 130. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted');
  }
}

/**
 * One line for stderr and the exit code for `err`. UserError (bad input) and failed system calls (ENOENT,
 * EACCES, ENOSPC, ...) are `error: <msg>`, exit 2; an interruption is exit 130; anything else is
 * `error: internal: <msg>`, exit 70. The stack only with --verbose.
 */
export function describeError(err: unknown, verbose: boolean): { line: string; code: number } {
  if (err instanceof InterruptedError) return { line: 'error: interrupted', code: EXIT.interrupted };
  // A failed system call (no such directory, permission denied, disk full) is about the user's files or machine,
  // not a bug: report it like bad input. Node's message already names the call and the path.
  const user = err instanceof UserError || isSystemError(err);
  const message = oneLine(err instanceof Error ? err.message : String(err));
  let line = user ? `error: ${message}` : `error: internal: ${message}`;
  if (verbose && err instanceof Error && err.stack) line += `\n${err.stack}`;
  return { line, code: user ? EXIT.usage : EXIT.internal };
}

function isSystemError(err: unknown): boolean {
  return err instanceof Error && 'syscall' in err && 'code' in err && typeof err.code === 'string';
}

/**
 * Messages may carry newlines (commander's suggestions, nested causes); the contract is one line. They may also
 * quote a file's own text (tensor names, JSON keys): its control bytes are escaped as \xNN / \uNNNN, so an ESC
 * or CR in a hostile file cannot rewrite the terminal or split the line.
 */
export function oneLine(message: string): string {
  return message
    .replace(/\s*\n\s*/g, ' ')
    .trim()
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    });
}
