import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { untilReleased } from '../runners/cleanup.ts';

/**
 * Headless Chromium, started by us (not by playwright) so we hold its pid, its process group and its
 * user-data-dir: closing kills the whole group and removes the directory, and the process-exit/signal hooks of
 * cleanup.ts do the same for any browser still open, so no Chromium outlives the caller. Playwright attaches
 * over CDP.
 */

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function chromiumPath(explicit?: string): string {
  return explicit ?? process.env.GRU_ONNX_CHROMIUM ?? DEFAULT_CHROMIUM;
}

/** Why the executable cannot be used, or undefined when it is there and executable. */
export function chromiumMissing(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
    return code === 'ENOENT' ? `Chromium not found at ${path}` : `Chromium at ${path} is not executable (${code})`;
  }
}

/** Flags for every launch: quiet, isolated from the network and from any profile. */
const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-quic',
  '--disable-dev-shm-usage',
  '--remote-debugging-port=0',
];

/** WebGPU in software: Dawn's SwiftShader adapter, which needs the "unsafe" switches in headless Linux. */
/** WebGPU in software: SwiftShader, whatever GPU the machine has. */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'];
/** WebGPU on the machine's GPU (Vulkan on Linux), nothing else: what a user's browser runs on. */
export const WEBGPU_HARDWARE_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist'];
export const NO_GPU_FLAGS = ['--disable-gpu'];

/** Live (not zombie) processes of process group `pgid`, read from /proc; 0 where /proc is not there. */
function liveInGroup(pgid: number): number {
  let n = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z' && Number(pgrp) === pgid) n++;
    } catch {
      // It ended while we looked.
    }
  }
  return n;
}

/**
 * Waits, synchronously (this also runs from 'exit' and signal handlers), until no process of the group is left
 * alive: a SIGKILLed Chromium takes some milliseconds to tear down its memory, and a caller that exits at once
 * would otherwise leave it visibly running for that long. Gives up after `ms`.
 */
function waitGroupGone(pgid: number, ms: number): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + ms;
  while (liveInGroup(pgid) > 0 && Date.now() < deadline) Atomics.wait(nap, 0, 0, 5);
}

export interface ChromiumProcess {
  readonly pid: number;
  /** Inside a private temporary root that also holds Chromium's TMPDIR; kill() removes the root. */
  readonly userDataDir: string;
  /**
   * For playwright's connectOverCDP, in the same root: left to itself playwright makes a playwright-artifacts-*
   * directory in TMPDIR and removes it asynchronously on disconnect, which an interrupted run can outpace.
   */
  readonly artifactsDir: string;
  /** ws://127.0.0.1:PORT/devtools/browser/… */
  readonly wsEndpoint: string;
  readonly version: string;
  /** Kills the process group and removes the user-data-dir; safe to call twice. */
  kill(): void;
}

const live = new Set<ChromiumProcess>();

/** Launches Chromium and waits for its DevTools endpoint (at most `timeoutMs`). */
export async function launchChromium(executable: string, extraFlags: string[], timeoutMs: number): Promise<ChromiumProcess> {
  // One private root for the profile and for Chromium's own temporary files (its org.chromium.Chromium.* shared
  // memory directories, which a killed Chromium leaves behind): removing the root removes everything.
  const root = mkdtempSync(join(tmpdir(), 'gru-onnx-chromium-'));
  const userDataDir = join(root, 'profile');
  const tmp = join(root, 'tmp');
  const artifactsDir = join(root, 'playwright');
  let proc: ChildProcess;
  try {
    mkdirSync(tmp);
    mkdirSync(artifactsDir);
    // detached: its own process group, so one kill reaches the renderer, GPU and zygote processes too.
    proc = spawn(executable, [...BASE_FLAGS, ...extraFlags, `--user-data-dir=${userDataDir}`, 'about:blank'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  let killed = false;
  let unregister = (): void => undefined;
  const handle: ChromiumProcess = {
    pid: proc.pid ?? -1,
    userDataDir,
    artifactsDir,
    wsEndpoint: '',
    version: '',
    kill(): void {
      if (!killed) {
        killed = true;
        live.delete(handle);
        unregister();
        if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
          try {
            process.kill(-proc.pid, 'SIGKILL');
            waitGroupGone(proc.pid, 2000);
          } catch (err) {
            // ESRCH: the group is already gone.
            if (!(err instanceof Error && 'code' in err && err.code === 'ESRCH')) throw err;
          }
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  unregister = untilReleased(() => handle.kill());
  live.add(handle);
  proc.unref();
  const ws = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => fail(`no DevTools endpoint within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      handle.kill();
      const last = text.trim().split('\n').slice(-3).join(' | ');
      reject(new Error(`Chromium (${executable}) failed to start: ${why}${last ? `: ${last}` : ''}`));
    };
    proc.once('error', (err) => fail(err.message));
    proc.once('exit', (code, sig) => fail(`exited (${sig ?? `code ${code}`})`));
    proc.stderr!.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve(m[1]!);
      }
    });
  });
  // Keep draining stderr so Chromium never blocks on a full pipe; the stream holds no reference to the loop.
  proc.stderr!.removeAllListeners('data');
  proc.stderr!.resume();
  (proc.stderr as Socket).unref();
  return { ...handle, wsEndpoint: ws, kill: handle.kill };
}

/** Open browsers, for tests and for callers that want to stop everything now (e.g. on their own SIGINT path). */
export function liveChromiumCount(): number {
  return live.size;
}

export function killAllChromium(): void {
  for (const c of [...live]) c.kill();
}
