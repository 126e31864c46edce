import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName, Job, NamedTensor, Placement, RunResult } from '../runner.ts';
import { expandAllNodes, parsePlacementLog, parseProfile } from '../placement.ts';
import { untilReleased } from './cleanup.ts';
import { checkFeeds, faultFor, firstLine, withDeadline } from './common.ts';

/** What one onnxruntime session in the worker child needs (see ort-worker.mjs). */
export interface OrtChildJob {
  runtime: 'node' | 'web';
  modulePath: string;
  executionProviders: unknown[];
  threads: number;
  /** Collect a session profile (onnxruntime-node only) for exact per-node placements. */
  profile: boolean;
  /** Environment changes for the child, e.g. NVIDIA_TF32_OVERRIDE; undefined removes an inherited variable. */
  env?: Record<string, string | undefined>;
}

interface WorkerResult {
  type: 'result';
  outputs: { name: string; dims: number[]; data: Float32Array }[];
  profile?: string;
  settings: Record<string, string | number | boolean>;
  versions: Record<string, string>;
}
interface WorkerError {
  type: 'error';
  message: string;
}

const WORKER = fileURLToPath(new URL('./ort-worker.mjs', import.meta.url));

/** Lines kept from the child's output: the placement block, and the tail for error messages. */
const TAIL_LINES = 40;

/** Reads a child's stdout/stderr as lines, keeping only what placement parsing and error messages need. */
class LogCollector {
  readonly placementLines: string[] = [];
  readonly tail: string[] = [];
  private partial = '';

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    // Every line of the placement block carries the logging function's name.
    if (line.includes('VerifyEachNodeIsAssignedToAnEp')) this.placementLines.push(line);
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }

  /** The last error-severity onnxruntime line, which usually says why a session failed. */
  lastError(): string | undefined {
    for (let i = this.tail.length - 1; i >= 0; i--) {
      const m = /\[E:onnxruntime:[^\]]*\] (.*)$/.exec(this.tail[i]!);
      if (m) return m[1];
    }
    return undefined;
  }
}

/**
 * Runs `job` once in a fresh worker child, under the deadline and signal; returns outputs, placements (from the
 * profile when collected, else from the verbose log) and the settings that applied.
 */
export async function runInChild(name: BackendName, child: OrtChildJob, job: Job, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
  checkFeeds(job.feeds);
  const profileDir = child.profile ? mkdtempSync(join(tmpdir(), 'gru-onnx-ort-')) : undefined;
  const env = { ...process.env };
  for (const [k, v] of Object.entries(child.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const proc = fork(WORKER, [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
    env,
    execArgv: [],
  });
  const release = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  };
  const unregister = untilReleased(release);
  const log = new LogCollector();
  proc.stdout!.on('data', (c: Buffer) => log.push(c));
  proc.stderr!.on('data', (c: Buffer) => log.push(c));
  const answer = new Promise<WorkerResult>((resolve, reject) => {
    let settled = false;
    proc.once('message', (m: WorkerResult | WorkerError) => {
      settled = true;
      if (m.type === 'result') resolve(m);
      else reject(new Error(`${name}: ${firstLine(m.message)}`));
    });
    proc.once('error', (err) => {
      settled = true;
      reject(new Error(`${name}: worker failed to start: ${firstLine(err)}`));
    });
    proc.once('exit', (code, sig) => {
      log.end();
      if (settled) return;
      const why = log.lastError() ?? log.tail.filter((l) => l.trim()).slice(-1)[0] ?? 'no output';
      reject(new Error(`${name}: worker exited (${sig ?? `code ${code}`}) before answering: ${why}`));
    });
  });
  const kill = (): void => {
    proc.kill('SIGKILL');
  };
  try {
    proc.send({
      runtime: child.runtime,
      modulePath: child.modulePath,
      model: job.model,
      feeds: Object.entries(job.feeds).map(([n, t]) => ({ name: n, dims: t.dims, data: t.data })),
      outputNames: job.outputNames,
      executionProviders: child.executionProviders,
      threads: child.threads,
      profileDir,
      fault: faultFor(name),
    });
    const result = await withDeadline(name, timeoutMs, signal, answer, kill);
    // Let the child finish writing its log before the placement block is read.
    if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
    log.end();
    const outputs: Record<string, NamedTensor> = {};
    for (const o of result.outputs) outputs[o.name] = { dims: o.dims, data: o.data };
    let placements: Placement[] = [];
    let placementSource = 'none';
    if (result.profile) {
      placements = parseProfile(result.profile);
      placementSource = 'onnxruntime profile';
    }
    if (placements.length === 0) {
      const fromLog = parsePlacementLog(log.placementLines);
      if (fromLog) {
        placements = expandAllNodes(fromLog, job.model);
        placementSource = 'onnxruntime verbose log';
      }
    }
    const settings: Record<string, string | number | boolean> = { ...result.settings, placementSource };
    for (const [k, v] of Object.entries(result.versions)) settings[`onnxruntime.${k}`] = v;
    return { outputs, placements, settings };
  } finally {
    unregister();
    release();
  }
}
