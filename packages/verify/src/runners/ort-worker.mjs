// @ts-check
/**
 * Child process that runs one onnxruntime session for the ort-cpu, ort-cuda and ort-wasm runners.
 *
 * Plain JavaScript on purpose: `child_process.fork` starts it with bare Node, no TypeScript loader. A child
 * because onnxruntime-node writes its verbose log (which names each node's execution provider) to the native
 * stderr, which only a parent can read; and because a hung or crashed native call can then be killed without
 * taking the caller down.
 *
 * Protocol: the parent sends one `job` message over IPC (advanced serialization, so typed arrays pass as they
 * are); the child answers with one `result` or `error` message and exits.
 */
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const require = createRequire(import.meta.url);

/** @param {unknown} err */
function message(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * @typedef {{ name: string; dims: number[]; data: Float32Array }} Feed
 * @typedef {{
 *   runtime: 'node' | 'web';
 *   modulePath: string;
 *   model: Uint8Array;
 *   feeds: Feed[];
 *   outputNames: string[];
 *   executionProviders: unknown[];
 *   threads: number;
 *   profileDir?: string;
 *   fault?: 'hang' | 'crash';
 * }} Job
 */

/** @param {Job} job */
async function run(job) {
  if (job.fault === 'crash') process.abort();
  if (job.fault === 'hang') {
    // A stuck native call looks like this from outside: no answer and no event-loop turns.
    for (;;);
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
  const session = await ort.InferenceSession.create(job.model, options);
  /** @type {Record<string, unknown>} */
  const feeds = {};
  for (const f of job.feeds) feeds[f.name] = new ort.Tensor('float32', f.data, f.dims);
  const out = await session.run(feeds, job.outputNames);
  /** @type {{ name: string; dims: number[]; type: string; data: Float32Array }[]} */
  const outputs = [];
  for (const name of job.outputNames) {
    const t = out[name];
    if (t.type !== 'float32') throw new Error(`output '${name}' is ${t.type}, expected float32`);
    outputs.push({ name, dims: [...t.dims], type: t.type, data: new Float32Array(t.data) });
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
  await session.release();
  return { outputs, profile, settings, versions: { ...ort.env.versions } };
}

process.once('message', (/** @type {Job} */ job) => {
  run(job).then(
    (result) => process.send?.({ type: 'result', ...result }, () => process.exit(0)),
    (err) => process.send?.({ type: 'error', message: message(err) }, () => process.exit(0)),
  );
});
