import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName, Job, NamedTensor, Placement, RunResult } from '../runner.ts';
import { annotateSubgraphs, expandAllNodes, parsePlacementLog, parseProfile } from '../placement.ts';
import { untilReleased } from './cleanup.ts';
import { checkFeeds, faultFor, firstLine, modelKeyOf, withDeadline } from './common.ts';
import { DTYPES, dtypeOf } from '../tensor.ts';
import type { TensorData } from '../tensor.ts';

/** How the worker child runs sessions (see ort-worker.mjs). */
export interface OrtChildConfig {
  runtime: 'node' | 'web';
  modulePath: string;
  executionProviders: unknown[];
  threads: number;
  /** Collect a session profile per run (onnxruntime-node only) for exact per-node placements. */
  profile: boolean;
  /** Environment changes for the child, e.g. NVIDIA_TF32_OVERRIDE; undefined removes an inherited variable. */
  env?: Record<string, string | undefined>;
}

interface WorkerAnswer {
  id: number;
  type: 'result' | 'error';
  message?: string;
  outputs?: { name: string; dims: number[]; type: string; data: TensorData }[];
  profile?: string;
  settings?: Record<string, string | number | boolean>;
  versions?: Record<string, string>;
  sessionMs?: number;
}

const WORKER = fileURLToPath(new URL('./ort-worker.mjs', import.meta.url));
/** Lines kept from the child's output for error messages. */
const TAIL_LINES = 40;

/**
 * The child's log, a regular file both its stdout and stderr append to, read by the parent after each answer.
 * Not a pipe: onnxruntime-web's wasm writes its verbose log with a synchronous write(2) to fd 1/2, which Node has
 * made non-blocking, so under load (the parent slow to read, the pipe full) the write fails with EAGAIN and the run
 * with it — a false failure. A file never fills; the child's writes have landed before it sends its answer.
 */
class ChildLog {
  private offset = 0;
  private partial = '';

  constructor(
    readonly path: string,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Reads what the child wrote since the last call, line by line. */
  drain(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return; // removed with the child's directory: nothing more to read
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const lines = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) this.onLine(line);
    } finally {
      closeSync(fd);
    }
    // The child appends (O_APPEND), so emptying the file between jobs is safe and keeps it small.
    if (this.partial === '') {
      truncateSync(this.path, 0);
      this.offset = 0;
    }
  }
}

/**
 * A worker child that runs one onnxruntime session per job, kept between jobs and replaced after a crash, a
 * timeout or an abort (which kill it). Jobs run one at a time.
 */
export class OrtChild {
  private proc: ChildProcess | undefined;
  private unregister: (() => void) | undefined;
  private placementLines: string[] = [];
  private tail: string[] = [];
  private answers = new Map<number, (a: WorkerAnswer) => void>();
  private exited: ((why: string) => void) | undefined;
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private childTmp: string | undefined;
  /** onnxruntime-web: the placements logged when the child created its session for a model, by model key. */
  private logged = new Map<string, Placement[]>();

  constructor(
    private readonly name: BackendName,
    private readonly config: OrtChildConfig,
  ) {}

  run(job: Job, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
    const r = this.queue.then(() => this.runNow(job, timeoutMs, signal));
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Kills the child, if any; safe to call twice. */
  async close(): Promise<void> {
    await this.queue;
    this.kill();
  }

  private kill(): void {
    this.unregister?.();
    this.unregister = undefined;
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    if (this.childTmp) rmSync(this.childTmp, { recursive: true, force: true });
    this.childTmp = undefined;
  }

  private line(line: string): void {
    // Every line of onnxruntime's placement block carries the logging function's name.
    if (line.includes('VerifyEachNodeIsAssignedToAnEp')) this.placementLines.push(line);
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }

  /** The last error-severity onnxruntime line of the current job: usually why a session failed. */
  private lastError(): string | undefined {
    for (let i = this.tail.length - 1; i >= 0; i--) {
      const m = /\[E:onnxruntime:[^\]]*\] (.*)$/.exec(this.tail[i]!);
      // eslint-disable-next-line no-control-regex -- strips the ANSI colours onnxruntime wraps error lines in
      if (m) return m[1]!.replace(/\x1b\[[0-9;]*m/g, '').trim();
    }
    return undefined;
  }

  private lastWords(): string {
    return this.lastError() ?? this.tail.filter((l) => l.trim()).slice(-1)[0] ?? 'no output';
  }

  private spawn(): ChildProcess {
    const env = { ...process.env };
    for (const [k, v] of Object.entries(this.config.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    // onnxruntime's native code leaves files in TMPDIR (`.ses`, `mat-debug-PID.log`) on every run: give the child
    // a private one, removed with the child, so no run leaves anything behind.
    this.childTmp = mkdtempSync(join(tmpdir(), 'gru-onnx-tmp-ort-child-'));
    env.TMPDIR = this.childTmp;
    const log = new ChildLog(join(this.childTmp, 'worker.log'), (l) => this.line(l));
    const logFd = openSync(log.path, 'a');
    let proc: ChildProcess;
    try {
      proc = fork(WORKER, [], { stdio: ['ignore', logFd, logFd, 'ipc'], serialization: 'advanced', env, execArgv: [] });
    } finally {
      closeSync(logFd); // the child holds its own copy
    }
    this.proc = proc;
    this.tail = [];
    // A new child creates its sessions, and logs their placements, anew.
    this.logged.clear();
    this.unregister = untilReleased(() => this.kill());
    proc.on('message', (a: WorkerAnswer) => {
      // Everything the child logged for this job is in the file before its answer was sent.
      log.drain();
      this.answers.get(a.id)?.(a);
    });
    // A child killed earlier may report its exit after its successor started: only the current one counts.
    const current = (): boolean => this.proc === proc || this.proc === undefined;
    proc.once('error', (err) => current() && this.exited?.(`worker failed to start: ${firstLine(err)}`));
    proc.once('exit', (code, sig) => {
      if (!current()) return;
      log.drain();
      this.kill();
      this.exited?.(`worker exited (${sig ?? `code ${code}`}) before answering: ${this.lastWords()}`);
    });
    return proc;
  }

  private async runNow(job: Job, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
    checkFeeds(job.feeds);
    signal?.throwIfAborted();
    const proc = this.proc ?? this.spawn();
    const id = this.nextId++;
    const modelKey = this.config.runtime === 'web' ? modelKeyOf(job.model) : undefined;
    const profileDir = this.config.profile ? mkdtempSync(join(tmpdir(), 'gru-onnx-ort-')) : undefined;
    const releaseDir = profileDir ? untilReleased(() => rmSync(profileDir, { recursive: true, force: true })) : undefined;
    this.placementLines = [];
    this.tail = [];
    const answer = new Promise<WorkerAnswer>((resolve, reject) => {
      this.answers.set(id, resolve);
      this.exited = (why) => reject(new Error(`${this.name}: ${why}`));
    });
    try {
      proc.send({
        id,
        runtime: this.config.runtime,
        modulePath: this.config.modulePath,
        model: job.model,
        feeds: Object.entries(job.feeds).map(([n, t]) => ({ name: n, dims: t.dims, dtype: dtypeOf(t), data: t.data })),
        outputNames: job.outputNames,
        executionProviders: this.config.executionProviders,
        threads: this.config.threads,
        profileDir,
        fault: faultFor(this.name),
        ...(modelKey ? { modelKey } : {}),
      });
      // The log was read (ChildLog.drain) before the answer was handed over.
      const a = await withDeadline(this.name, timeoutMs, signal, answer, () => this.kill());
      if (a.type === 'error') {
        // The JS error is often generic ("Failed to load shared library"); the native log says which and why.
        const detail = this.lastError();
        const text = firstLine(a.message);
        throw new Error(`${this.name}: ${text}${detail && !text.includes(detail) ? ` (${detail})` : ''}`);
      }
      const outputs: Record<string, NamedTensor> = {};
      for (const o of a.outputs ?? []) {
        const dtype = DTYPES.find((d) => d === o.type);
        if (!dtype) throw new Error(`${this.name}: output '${o.name}' is ${o.type}, which gru-onnx cannot compare`);
        // Advanced serialization turns a Float16Array (newer Nodes) into its own type; keep bit patterns.
        outputs[o.name] = { dims: o.dims, dtype, data: o.data };
      }
      let placements: Placement[] = [];
      let placementSource = 'none';
      if (a.profile) {
        placements = parseProfile(a.profile);
        placementSource = 'onnxruntime profile';
      }
      if (placements.length === 0) {
        const fromLog = parsePlacementLog(this.placementLines);
        if (fromLog) {
          placements = expandAllNodes(fromLog, job.model);
          placementSource = 'onnxruntime verbose log';
          if (modelKey) this.logged.set(modelKey, placements);
        } else if (modelKey && this.logged.has(modelKey)) {
          // The child reused the session it created for this model; its log came with that first job.
          placements = this.logged.get(modelKey)!;
          placementSource = 'onnxruntime verbose log';
        }
      }
      placements = annotateSubgraphs(placements, job.model);
      const settings: Record<string, string | number | boolean> = { ...a.settings, placementSource };
      for (const [k, v] of Object.entries(a.versions ?? {})) settings[`onnxruntime.${k}`] = v;
      return { outputs, placements, settings, ...(a.sessionMs !== undefined ? { sessionMs: a.sessionMs } : {}) };
    } finally {
      this.answers.delete(id);
      this.exited = undefined;
      releaseDir?.();
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    }
  }
}
