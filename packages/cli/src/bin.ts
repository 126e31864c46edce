#!/usr/bin/env node
import { main } from './index.ts';
import { EXIT } from './exit-codes.ts';

// First Ctrl-C asks the running command to stop cleanly (verify closes its browsers, no temp files are left);
// a second one exits at once, for a command that does not listen.
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(EXIT.interrupted);
  process.stderr.write('\ninterrupted; stopping (Ctrl-C again to exit now)\n');
  controller.abort();
});

const code = await main(process.argv.slice(2), { signal: controller.signal });
// Exit explicitly: a backend's worker threads (tfjs-wasm, onnxruntime-web) may keep the event loop alive
// after every result is written. stdout/stderr are synchronous for files and pipes on Linux, so nothing is lost.
process.exit(code);
