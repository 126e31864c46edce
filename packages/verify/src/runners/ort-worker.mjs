// @ts-check
/**
 * Child process that runs one onnxruntime session for the ort-cpu, ort-cuda and ort-wasm runners.
 *
 * Plain JavaScript on purpose: `child_process.fork` starts it with bare Node, no TypeScript loader. A child
 * because onnxruntime-node writes its verbose log (which names each node's execution provider) to the native
 * stderr, which only a parent can read; and because a hung or crashed native call can then be killed without
 * taking the caller down.
 *
 * Protocol: the parent sends `job` messages over IPC (advanced serialization, so typed arrays pass as they are),
 * one at a time; for each the child answers with one `result` or `error` message. Its stdout and stderr are a
 * file, not pipes (see ChildLog in ort-process.ts), so every log line of a job is written before its answer is
 * sent, and a burst of verbose log can never fail a write with EAGAIN. The child stays up between jobs:
 * loading onnxruntime-web's wasm costs over a second, a new session a tenth of that. onnxruntime-node jobs get
 * a session each, so each profile is that job's own; onnxruntime-web keeps one session per model (`modelKey`),
 * whose placements were logged when it was created.
 */
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

const require = createRequire(import.meta.url);

/** @param {unknown} err */
function message(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * @typedef {{ name: string; dims: number[]; dtype: string; data: ArrayLike<unknown> }} Feed
 * @typedef {{
 *   runtime: 'node' | 'web';
 *   modulePath: string;
 *   model: Uint8Array;
 *   feeds: Feed[];
 *   outputNames: string[];
 *   executionProviders: unknown[];
 *   threads: number;
 *   profileDir?: string;
 *   fault?: 'hang' | 'crash' | 'flood';
 *   modelKey?: string;
 *   id: number;
 * }} Job
 */

/** @type {{ key: string; session: { release(): Promise<void> } } | undefined} */
let kept;

/** @param {Job} job */
async function run(job) {
  if (job.fault === 'crash') process.abort();
  if (job.fault === 'hang') {
    // A stuck native call looks like this from outside: no answer and no event-loop turns.
    for (;;);
  }
  if (job.fault === 'flood') {
    // Verbose log as native and wasm code write it: raw write(2)s to the stdio fds, which Node has made
    // non-blocking once process.stderr was used.
    process.stderr.write('');
    const line = `${'v'.repeat(1023)}\n`;
    for (let i = 0; i < 4096; i++) writeSync(2, line);
  }
  const ort = require(job.modulePath);
  /** @type {Record<string, unknown>} */
  const options = {
    executionProviders: job.executionProviders,
    logSeverityLevel: 0,
    logVerbosityLevel: 0,
  };
  /** @type {Record<string, string | number | boolean>} */
  const settings = {};
  if (job.runtime === 'web') {
    ort.env.logLevel = 'verbose';
    ort.env.wasm.numThreads = job.threads;
  } else {
    options.intraOpNumThreads = job.threads;
    options.interOpNumThreads = 1;
    if (job.profileDir) {
      // The profile lists the provider of every node that actually executed, subgraph nodes included.
      options.enableProfiling = true;
      options.profileFilePrefix = join(job.profileDir, 'ort-profile');
    }
  }
  // onnxruntime-web keeps one session per model between jobs (creating one costs more than a run at these sizes).
  // onnxruntime-node gets one per job: its profile is per session.
  const keep = job.runtime === 'web' && job.modelKey !== undefined;
  let session;
  let sessionMs;
  if (keep && kept?.key === job.modelKey) {
    session = kept.session;
  } else {
    if (kept) await kept.session.release();
    kept = undefined;
    const t0 = performance.now();
    session = await ort.InferenceSession.create(job.model, options);
    sessionMs = performance.now() - t0;
    if (keep) kept = { key: job.modelKey, session };
  }
  /** @type {Record<string, unknown>} */
  const feeds = {};
  for (const f of job.feeds) feeds[f.name] = new ort.Tensor(f.dtype, f.data, f.dims);
  // Placements are logged while the session is created; verbose logging during the run only costs time.
  const out = await session.run(feeds, job.outputNames, { logSeverityLevel: 3 });
  /** @type {{ name: string; dims: number[]; type: string; data: unknown }[]} */
  const outputs = [];
  for (const name of job.outputNames) {
    const t = out[name];
    // A copy: the session's buffers go with session.release(). float16 comes as its bit patterns (Uint16Array).
    const data = Array.isArray(t.data) ? [...t.data] : t.data.slice();
    outputs.push({ name, dims: [...t.dims], type: t.type, data });
  }
  let profile;
  if (job.runtime === 'node' && job.profileDir) {
    await session.endProfiling();
    const file = readdirSync(job.profileDir).find((f) => f.startsWith('ort-profile') && f.endsWith('.json'));
    if (file) profile = readFileSync(join(job.profileDir, file), 'utf8');
  }
  if (job.runtime === 'web') {
    settings.numThreads = ort.env.wasm.numThreads;
    settings.proxy = Boolean(ort.env.wasm.proxy);
  } else {
    settings.intraOpNumThreads = job.threads;
    settings.interOpNumThreads = 1;
  }
  if (!keep) await session.release();
  return { outputs, profile, settings, versions: { ...ort.env.versions }, sessionMs };
}

process.on('message', (/** @type {Job} */ job) => {
  const done = (/** @type {Record<string, unknown>} */ answer) => {
    process.send?.({ ...answer, id: job.id });
  };
  run(job).then(
    (result) => done({ type: 'result', ...result }),
    (err) => done({ type: 'error', message: message(err) }),
  );
});
// The parent went away (it kills us itself when it can): nothing left to answer to.
process.on('disconnect', () => process.exit(0));
