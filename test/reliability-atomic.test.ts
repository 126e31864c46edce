/**
 * Atomic outputs (issue 7, item 3): every file gru-onnx writes — checkpoint, model, report files, bundle
 * directory — appears complete or not at all. A child writing one kind in a loop is SIGKILLed at random moments;
 * afterwards the final name is absent or fully valid. Two concurrent exports to one path leave one complete file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint, initParams, loadCheckpoint, Rng, saveCheckpoint } from '@gru-onnx/model';
import { checkModel, exportSeedModel, onnx, saveModel } from '@gru-onnx/onnx';
import { loadBundle } from '@gru-onnx/verify';
import { main, type Io } from '@gru-onnx/cli';
import { ROOT, startCli } from './cli-helpers.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gru-onnx-atomic-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const validModel = (path: string) => expect(checkModel(onnx.ModelProto.decode(readFileSync(path)))).toEqual([]);

/** For each kind: the final names it writes, and a check that throws unless the file there is complete. */
const small = { inputSize: 2, hiddenSize: 3, outputSize: 2 };
const KINDS: Record<string, { finals: string[]; valid: (path: string) => void; rewrite?: (dir: string) => void }> = {
  checkpoint: {
    finals: ['model.safetensors'],
    valid: (p) => void loadCheckpoint(p),
    rewrite: (dir) => saveCheckpoint(join(dir, 'model.safetensors'), { config: small, params: initParams(small, new Rng(1)), metadata: {} }),
  },
  model: { finals: ['model.onnx'], valid: validModel, rewrite: (dir) => saveModel(join(dir, 'model.onnx'), exportSeedModel(initParams(small, new Rng(1)))) },
  report: {
    finals: ['report/report.json', 'report/report.md', 'report/report.html'],
    valid: (p) => {
      const text = readFileSync(p, 'utf8');
      if (p.endsWith('.json')) expect((JSON.parse(text) as { summary?: unknown }).summary).toBeDefined();
      else if (p.endsWith('.html')) expect(text.trimEnd()).toMatch(/<\/html>$/);
      else expect(text).toMatch(/^# /);
    },
  },
  bundle: { finals: ['bundle'], valid: (p) => expect(loadBundle(p).cases).toHaveLength(2) },
};

/**
 * Starts the writer and kills it with SIGKILL `delayMs` after it starts (`from: 'start'`) or after its first
 * complete write (`from: 'first-write'`, so the kill lands in the loop); resolves with the writes it completed.
 */
function killWriter(kind: string, dir: string, from: 'start' | 'first-write', delayMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/reliability-writer.ts', kind, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const arm = () => (timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs));
  if (from === 'start') arm();
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (from === 'first-write' && out.includes('wrote')) arm();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer ended on its own (code ${code}, signal ${signal})`));
      else resolve(out.split('\n').filter((l) => l.startsWith('wrote')).length);
    });
  });
}

describe('atomic outputs under SIGKILL', () => {
  const rng = new Rng(11);
  for (const [kind, spec] of Object.entries(KINDS)) {
    it(`${kind}: the final name is absent or complete after every kill`, { timeout: 180_000 }, async () => {
      const dir = tempDir();
      let completed = 0;
      for (let round = 0; round < 8; round++) {
        // Half the kills land anywhere from start-up on, half inside the write loop.
        completed += await killWriter(kind, dir, round % 2 === 0 ? 'start' : 'first-write', Math.floor(rng.uniform() * (round % 2 === 0 ? 2500 : 400)));
        for (const f of spec.finals) if (existsSync(join(dir, f))) spec.valid(join(dir, f));
      }
      // The test only proves something if writes were in flight when the kills landed.
      expect(completed).toBeGreaterThan(0);
      // The next complete write removes the temporaries of writers that were killed (checkpoint, model, report).
      if (spec.rewrite) {
        spec.rewrite(dir);
        expect(readdirSync(dir, { recursive: true }).map(String).filter((e) => e.includes('.tmp-'))).toEqual([]);
      }
      // Leftovers are temporaries under their own dot-names, never under a final name.
      const stray = readdirSync(dir, { recursive: true }).map(String).filter((e) => !spec.finals.some((f) => e === f || e.startsWith(`${f}/`)) && !/(^|\/)\.[^/]*\.(tmp|old)-/.test(e) && e !== 'report');
      expect(stray).toEqual([]);
    });
  }
});

describe('concurrent exports', () => {
  it('two exports racing to one path leave one complete file, equal to one of them', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const config = { inputSize: 16, hiddenSize: 256, outputSize: 8 };
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, encodeCheckpoint({ config, params: initParams(config, new Rng(3)), metadata: {} }));
    // What each would write alone.
    const io: Io = { out: () => undefined, err: () => undefined, stderrIsTTY: false, stderrStream: process.stderr };
    const expected = [];
    for (const form of ['fused', 'scan']) {
      const p = join(dir, `${form}.onnx`);
      expect(await main(['export', '--weights', weights, '--out', p, '--form', form], { io })).toBe(0);
      expected.push(readFileSync(p));
    }
    const target = join(dir, 'race.onnx');
    for (let round = 0; round < 3; round++) {
      const runs = ['fused', 'scan'].map((form) => startCli(['export', '--weights', weights, '--out', target, '--form', form]).done);
      const results = await Promise.all(runs);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const got = readFileSync(target);
      validModel(target);
      expect(expected.some((e) => e.equals(got))).toBe(true);
    }
    expect(readdirSync(dir).filter((e) => e.includes('.tmp-'))).toEqual([]);
  });
});

describe('output directories that cannot be made', () => {
  // Node 20's mkdirSync(…, { recursive: true }) spins forever where mkdir fails with ENOENT under an existing
  // parent, as in /proc: every output directory is made level by level instead.
  it.runIf(existsSync('/proc/self'))('--report and --save-bundle under /proc fail at once with exit 2', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const config = { inputSize: 2, hiddenSize: 3, outputSize: 2 };
    const params = initParams(config, new Rng(1));
    const weights = join(dir, 'w.safetensors');
    const model = join(dir, 'm.onnx');
    writeFileSync(weights, encodeCheckpoint({ config, params, metadata: {} }));
    writeFileSync(model, exportSeedModel(params));
    const verify = ['verify', '--model', model, '--weights', weights, '--backends', 'reference', '--shapes', '1x2'];
    for (const argv of [[...verify, '--report', '/proc/gru-onnx-x/r'], [...verify, '--save-bundle', '/proc/gru-onnx-x/b']]) {
      let stderr = '';
      const io: Io = { out: () => undefined, err: (s) => void (stderr += s), stderrIsTTY: false, stderrStream: process.stderr };
      const t0 = performance.now();
      expect(await main(argv, { io })).toBe(2);
      expect(stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/\/proc\/gru-onnx-x.*cannot create the directory \(ENOENT\)/)]);
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });
});
