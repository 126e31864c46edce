import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { BackendName, Job, NamedTensor, Placement, Probe, RunResult, Runner } from '../runner.ts';
import type { ChromiumProcess } from '../browser/chromium.ts';
import { NO_GPU_FLAGS, WEBGPU_FLAGS, WEBGPU_HARDWARE_FLAGS, chromiumMissing, chromiumPath, launchChromium } from '../browser/chromium.ts';
import type { PageServer } from '../browser/server.ts';
import { startPageServer } from '../browser/server.ts';
import { annotateSubgraphs, expandAllNodes, parsePlacementLog } from '../placement.ts';
import type { RunnerOptions } from './common.ts';
import { checkFeeds, faultFor, firstLine, modelKeyOf, packageVersion, threadsOf, timeoutOf, tryResolve, withDeadline } from './common.ts';
import { findOrtWeb } from './ort-wasm.ts';
import { DTYPES, dtypeOf, fromLittleEndianBytes, toLittleEndianBytes } from '../tensor.ts';

/**
 * onnxruntime-web in headless Chromium (shared by browser-wasm and browser-webgpu). The browser, its page and
 * the loopback server start on first use and stay up for later runs; a run that times out, is aborted or
 * crashes takes them down (the next run starts afresh). Runs are serialised: the page's console is read per run.
 */
export type BrowserEp = 'wasm' | 'webgpu' | 'webgpu-jsep';

/** One output's name, shape and dtype; its bytes were POSTed to the path the runner opened for it. */
interface PageOutput {
  name: string;
  dims: number[];
  type: string;
}
interface PageResult {
  outputs: PageOutput[];
  settings: Record<string, string | number | boolean>;
  /** Set when the page created a session for this job's model (and logged its placements): how long that took. */
  sessionMs?: number;
}

/** A launched Chromium with playwright connected over CDP. */
interface OpenBrowser {
  chromium: ChromiumProcess;
  browser: Browser;
}

interface Session {
  chromium: ChromiumProcess;
  browser: Browser;
  page: Page;
  server: PageServer;
  console: string[];
  chromiumVersion: string;
  /** WebGPU backends: the adapter the page gets (null: none), and whether Chromium was told to use SwiftShader. */
  adapter?: AdapterInfo | null;
  forcedSoftware?: boolean;
  /** The model the page holds a session for, and the placements logged when it was created. */
  model?: { key: string; placements: Placement[]; logged: boolean };
}

/** The bundle a web app imports for each: `onnxruntime-web/wasm`, `onnxruntime-web/webgpu` (native EP), `onnxruntime-web` (JSEP). */
const BUNDLE: Record<BrowserEp, string> = { wasm: 'ort.wasm.min.mjs', webgpu: 'ort.webgpu.min.mjs', 'webgpu-jsep': 'ort.min.mjs' };
/** The executionProviders name each asks its bundle for. */
const EP_NAME: Record<BrowserEp, string> = { wasm: 'wasm', webgpu: 'webgpu', 'webgpu-jsep': 'webgpu' };

/** The adapter's identity, as GPUAdapterInfo gives it. */
interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
}
const ADAPTER_INFO = `(async () => { const a = await navigator.gpu?.requestAdapter(); if (!a) return null; const i = a.info ?? {}; return { vendor: i.vendor ?? '', architecture: i.architecture ?? '', description: i.description ?? '', isFallbackAdapter: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter) }; })()`;

/** Software adapters: Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, or any the browser calls a fallback. */
export function isSoftwareAdapter(a: AdapterInfo): boolean {
  return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/i.test(`${a.vendor} ${a.architecture} ${a.description}`);
}
const describeAdapter = (a: AdapterInfo): string => [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unnamed';
const ENABLE_CHROMIUM = 'install Chromium (Debian: apt-get install chromium) or point GRU_ONNX_CHROMIUM at a Chromium/Chrome executable';

interface Playwright {
  chromium: { connectOverCDP(endpoint: string, options?: { timeout?: number; artifactsDir?: string }): Promise<Browser> };
}

/** WebGPU's `auto` adapter: a hardware one if Chromium finds it, SwiftShader allowed. */
const AUTO_ADAPTER_FLAGS = [...WEBGPU_HARDWARE_FLAGS, '--enable-unsafe-swiftshader'];

/** Launches Chromium with `flags` and connects playwright to it; on failure nothing is left running. */
async function openBrowser(playwrightPath: string, executable: string, flags: string[], timeoutMs: number): Promise<OpenBrowser> {
  // playwright-core is CommonJS: its API is the namespace under vitest's interop, `default` under plain Node.
  const mod = (await import(pathToFileURL(playwrightPath).href)) as Partial<Playwright> & { default?: Playwright };
  const connector = mod.chromium ?? mod.default?.chromium;
  if (!connector) throw new Error(`playwright-core at ${playwrightPath} has no chromium export`);
  const chromium = await launchChromium(executable, flags, Math.min(timeoutMs, 30_000));
  try {
    const browser = await connector.connectOverCDP(chromium.wsEndpoint, { timeout: Math.min(timeoutMs, 30_000), artifactsDir: chromium.artifactsDir });
    return { chromium, browser };
  } catch (err) {
    chromium.kill();
    throw err;
  }
}

export function createBrowserRunner(name: BackendName, ep: BrowserEp, options: RunnerOptions = {}): Runner {
  const threads = threadsOf(options);
  const timeoutMs = timeoutOf(options);
  const executable = chromiumPath(options.chromiumPath);
  let session: Promise<Session> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Libraries and executable present, without starting anything. */
  const prerequisites = (): { ortDist: string; ortVersion: string; playwright: string; playwrightVersion: string } | { reason: string; enable: string } => {
    const pw = tryResolve(options, 'playwright-core');
    if ('reason' in pw) return { reason: pw.reason, enable: 'install playwright-core 1.65.1 (pnpm install in this workspace)' };
    const ort = findOrtWeb(options);
    if ('reason' in ort) return ort;
    const missing = chromiumMissing(executable);
    if (missing) return { reason: missing, enable: ENABLE_CHROMIUM };
    return { ortDist: ort.distDir, ortVersion: ort.version, playwright: pw.path, playwrightVersion: packageVersion(pw.path, 'playwright-core') };
  };

  const webgpu = ep !== 'wasm';
  const adapterMode = options.webgpuAdapter ?? 'auto';
  /**
   * Starts Chromium with the flags the adapter mode asks for. `auto` first lets Chromium find the GPU (SwiftShader
   * allowed as its fallback) and, when that gives no adapter at all, starts again on SwiftShader.
   */
  const start = async (): Promise<Session> => {
    if (!webgpu) return launch(NO_GPU_FLAGS, false);
    if (adapterMode === 'software') return launch(WEBGPU_FLAGS, true);
    if (adapterMode === 'hardware') return launch(WEBGPU_HARDWARE_FLAGS, false);
    const first = await launch(AUTO_ADAPTER_FLAGS, false);
    if (first.adapter) return first;
    first.chromium.kill();
    await first.browser.close().catch(() => undefined);
    await first.server.close();
    return launch(WEBGPU_FLAGS, true);
  };

  const launch = async (flags: string[], forcedSoftware: boolean): Promise<Session> => {
    const pre = prerequisites();
    if ('reason' in pre) throw new Error(`${name}: ${pre.reason}`);
    const server = await startPageServer(pre.ortDist);
    let open: OpenBrowser | undefined;
    try {
      open = await openBrowser(pre.playwright, executable, flags, timeoutMs);
      const { chromium, browser } = open;
      const context = browser.contexts()[0] ?? (await browser.newContext());
      const page = await context.newPage();
      const lines: string[] = [];
      page.on('console', (msg) => {
        lines.push(msg.text());
      });
      await page.goto(`${server.origin}/`, { timeout: Math.min(timeoutMs, 30_000) });
      await page.waitForFunction('window.gruOnnxReady === true', undefined, { timeout: Math.min(timeoutMs, 30_000) });
      const adapter = webgpu ? ((await page.evaluate(ADAPTER_INFO)) as AdapterInfo | null) : undefined;
      return { chromium, browser, page, server, console: lines, chromiumVersion: browser.version(), ...(webgpu ? { adapter, forcedSoftware } : {}) };
    } catch (err) {
      if (open) {
        open.chromium.kill();
        // The browser is gone already, so closing can only report the lost connection.
        await open.browser.close().catch(() => undefined);
      }
      await server.close();
      throw err;
    }
  };

  let closing: Promise<void> = Promise.resolve();
  /** Kills the browser first (it may be hung), then lets go of the CDP connection and the server. */
  const shutdown = (): Promise<void> => {
    const s = session;
    session = undefined;
    if (!s) return closing;
    closing = (async () => {
      let open: Session;
      try {
        open = await s;
      } catch {
        // It never started; start() released what it had.
        return;
      }
      open.chromium.kill();
      // The process is gone already, so closing can only report the lost connection: nothing to act on.
      await open.browser.close().catch(() => undefined);
      await open.server.close();
    })();
    return closing;
  };

  const runOnce = async (job: Job, signal?: AbortSignal): Promise<RunResult> => {
    checkFeeds(job.feeds);
    session ??= start();
    const fault = faultFor(name);
    const work = (async (): Promise<RunResult> => {
      const s = await session!;
      const modelKey = modelKeyOf(job.model);
      // The page keeps one session per model across shapes; the model travels only when it changes.
      const paths = s.model?.key === modelKey ? [] : [s.server.put(job.model, 'model.onnx')];
      const feeds = Object.entries(job.feeds).map(([n, t]) => {
        const dtype = dtypeOf(t);
        // Strings travel as JSON, numbers as their little-endian bytes.
        const bytes = Array.isArray(t.data) ? new TextEncoder().encode(JSON.stringify(t.data)) : toLittleEndianBytes(t);
        const path = s.server.put(bytes, `${n}.bin`);
        paths.push(path);
        return { name: n, dims: t.dims, dtype, path };
      });
      // Where the page sends each output's bytes (little-endian numbers, or a string tensor's JSON).
      const uploads = job.outputNames.map((n) => s.server.accept(`${n}.bin`));
      const from = s.console.length;
      try {
        const args = { bundle: BUNDLE[ep], ep: EP_NAME[ep], threads, modelKey, modelPath: s.model?.key === modelKey ? null : paths[0], feeds, outputNames: job.outputNames, outputPaths: uploads, fault: fault === 'hang' ? 'hang' : undefined };
        const evaluation = s.page.evaluate(`window.gruOnnxRun(${JSON.stringify(args)})`);
        // A crash is simulated by killing the browser mid-run, as an OOM kill or a GPU process crash would.
        if (fault === 'crash') setTimeout(() => s.chromium.kill(), 50);
        const result = (await evaluation) as PageResult;
        const outputs: Record<string, NamedTensor> = {};
        for (const [i, o] of result.outputs.entries()) {
          const dtype = DTYPES.find((d) => d === o.type);
          if (!dtype) throw new Error(`${name}: output '${o.name}' is ${o.type}, which gru-onnx cannot compare`);
          const bytes = s.server.take(uploads[i]!);
          if (!bytes) throw new Error(`${name}: the page sent no bytes for output '${o.name}'`);
          outputs[o.name] = dtype === 'string' ? { dims: o.dims, dtype, data: JSON.parse(new TextDecoder().decode(bytes)) as string[] } : fromLittleEndianBytes(dtype, o.dims, bytes);
        }
        if (result.sessionMs !== undefined || s.model?.key !== modelKey) {
          // Placements are decided when the session is created, so its log holds them for every later run.
          const log = parsePlacementLog(s.console.slice(from));
          s.model = { key: modelKey, placements: log ? annotateSubgraphs(expandAllNodes(log, job.model), job.model) : [], logged: log !== undefined };
        }
        return {
          outputs,
          placements: s.model.placements,
          settings: {
            executionProvider: ep,
            bundle: BUNDLE[ep],
            ...result.settings,
            // onnxruntime-web 1.30 ships SIMD builds only; `wasm` names the one the page fetched.
            simd: true,
            wasm: s.server.fetched().filter((f) => f.endsWith('.wasm')).join(', '),
            chromium: s.chromiumVersion,
            placementSource: s.model.logged ? 'onnxruntime verbose log (page console), once per session' : 'none',
          },
          ...(result.sessionMs !== undefined ? { sessionMs: result.sessionMs } : {}),
        };
      } finally {
        for (const p of paths) s.server.drop(p);
        for (const p of uploads) s.server.take(p);
      }
    })();
    try {
      return await withDeadline(name, timeoutMs, signal, work, shutdown);
    } catch (err) {
      // Whatever went wrong may have left the page unusable: start afresh next time.
      await shutdown();
      throw err instanceof Error && err.message.startsWith(`${name}:`) ? err : new Error(`${name}: ${firstLine(err)}`);
    }
  };

  return {
    name,
    async probe(): Promise<Probe> {
      const pre = prerequisites();
      if ('reason' in pre) return { available: false, reason: pre.reason, enable: pre.enable };
      // Starting the browser is the only proof that it runs here; the runs reuse it.
      try {
        session ??= start();
        const s = await session;
        const versions = { 'onnxruntime-web': pre.ortVersion, 'playwright-core': pre.playwrightVersion, chromium: s.chromiumVersion };
        if (webgpu) {
          const adapter = s.adapter ?? null;
          if (adapter === null) {
            return adapterMode === 'hardware'
              ? { available: false, reason: `Chromium ${s.chromiumVersion} offers no hardware WebGPU adapter here (started with ${WEBGPU_HARDWARE_FLAGS.join(' ')})`, enable: 'run on a machine with a GPU and its Vulkan driver, or --webgpu-adapter software (SwiftShader)' }
              : { available: false, reason: `Chromium ${s.chromiumVersion} offers no WebGPU adapter (navigator.gpu.requestAdapter() gave none)`, enable: 'use a Chromium with WebGPU; headless Linux needs --enable-unsafe-webgpu --enable-unsafe-swiftshader (passed already)' };
          }
          const software = s.forcedSoftware === true || isSoftwareAdapter(adapter);
          if (adapterMode === 'hardware' && software) {
            return { available: false, reason: `Chromium's WebGPU adapter here is software (${describeAdapter(adapter)}), and --webgpu-adapter hardware asks for the GPU`, enable: 'run on a machine with a GPU and its Vulkan driver' };
          }
          return {
            available: true,
            versions,
            settings: {
              executionProvider: 'webgpu',
              implementation: ep === 'webgpu' ? 'native WebGPU EP (onnxruntime-web/webgpu)' : 'JSEP (onnxruntime-web, default bundle)',
              numThreads: threads,
              webgpuAdapterMode: adapterMode,
              webgpuAdapter: describeAdapter(adapter),
              webgpuAdapterKind: software ? 'software' : 'hardware',
              webgpuAdapterVendor: adapter.vendor,
              webgpuAdapterArchitecture: adapter.architecture,
              webgpuAdapterDescription: adapter.description,
            },
          };
        }
        return { available: true, versions, settings: { executionProvider: 'wasm', numThreads: threads, simd: true } };
      } catch (err) {
        await shutdown();
        return { available: false, reason: `the browser session did not start (Chromium at ${executable}): ${firstLine(err)}`, enable: ENABLE_CHROMIUM };
      }
    },
    run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      const r = queue.then(() => runOnce(job, signal));
      queue = r.catch(() => undefined);
      return r;
    },
    async close(): Promise<void> {
      await queue;
      await shutdown();
    },
  };
}
