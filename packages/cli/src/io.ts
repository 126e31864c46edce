import { SingleBar, Presets } from 'cli-progress';

/**
 * Where a command writes. stdout carries results (and nothing but JSON under --json); stderr carries logs,
 * progress and errors. Passed in, not read from `process`, so tests can run the program in-process.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars only when stderr is a terminal; plain lines otherwise (CI logs, pipes). */
  readonly stderrIsTTY: boolean;
  /** The stream cli-progress draws on; only used when stderrIsTTY. */
  readonly stderrStream: NodeJS.WritableStream;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    stderrStream: process.stderr,
  };
}

/** Writes `text` plus a newline to stdout. */
export function println(io: Io, text = ''): void {
  io.out(`${text}\n`);
}

/** Writes a log line to stderr. */
export function log(io: Io, text: string): void {
  io.err(`${text}\n`);
}

/** Prints `value` as the one JSON document on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Progress {
  /** Advance to `value` of `total`; `label` says what is running now. */
  update(value: number, label: string): void;
  /** Clears the bar's row so a line printed now does not land on it; the next update redraws the bar. */
  clearLine(): void;
  /** Removes the bar (TTY) so the lines that follow start clean. Safe to call twice. */
  stop(): void;
}

/**
 * A progress bar on a TTY; elsewhere nothing, because the caller prints plain result lines of its own
 * (the seed's epoch lines, one line per backend) and a bar's carriage returns would garble a CI log.
 */
export function createProgress(io: Io, title: string, total: number): Progress {
  if (!io.stderrIsTTY || total <= 0) return { update: () => undefined, clearLine: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: `${title} [{bar}] {value}/{total} {label}`, stream: io.stderrStream, clearOnComplete: true, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  let stopped = false;
  return {
    update: (value, label) => {
      if (!stopped) bar.update(value, { label });
    },
    clearLine: () => {
      if (!stopped) io.err('\r\x1b[2K');
    },
    stop: () => {
      if (!stopped) bar.stop();
      stopped = true;
    },
  };
}
