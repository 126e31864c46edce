import type { Io } from './io.ts';

/** What every command's action gets: where to write, and the signal SIGINT aborts. */
export interface Context {
  readonly io: Io;
  readonly signal: AbortSignal;
  /** The command's exit code, set by its action (commander's actions return nothing to the caller). */
  exitCode: number;
}
