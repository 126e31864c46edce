#!/usr/bin/env node
// Not from index.ts: it re-exports the parsers, which load the verify package; `--help` must stay light.
import { EXIT } from './exit-codes.ts';
import { processIo } from './io.ts';
import { runCli } from './program.ts';

/** Commands that watch the abort signal and stop cleanly (browsers closed, no partial files, exit 130). */
const STOPS_CLEANLY = new Set(['demo', 'verify', 'train']);

const argv = process.argv.slice(2);
const command = argv.find((a) => !a.startsWith('-'));
const controller = new AbortController();
process.on('SIGINT', () => {
  // Other commands, and a second Ctrl-C, exit at once; the verify package's own exit hook still kills any
  // browser it started. File writes are atomic, so no partial file is left either way.
  if (controller.signal.aborted || command === undefined || !STOPS_CLEANLY.has(command)) process.exit(EXIT.interrupted);
  process.stderr.write('\ninterrupted; stopping cleanly (Ctrl-C again to exit now)\n');
  controller.abort();
});

const code = await runCli(argv, { io: processIo(), signal: controller.signal, exitCode: 0 });
// Exit explicitly: a backend's worker threads (tfjs-wasm, onnxruntime-web) may keep the event loop alive
// after every result is written. stdout/stderr are synchronous for files and pipes on Linux, so nothing is lost.
process.exit(code);
