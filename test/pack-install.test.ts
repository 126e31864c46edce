/**
 * README "Use it in your project", end to end: pack every package (`pnpm pack:all`), `npm i` the tarballs into
 * an empty project in a fresh temporary directory, and use gru-onnx from there as a user would — the installed
 * bin with relative paths, and the library by import — with nothing from this repository on the path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, chromiumPath } from '../packages/verify/src/browser/chromium.ts';
import { installPacks, packAll } from '../tools/pack/pack-all.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-pack-'));
const project = join(dir, 'project');
const work = join(project, 'work');
const bin = join(project, 'node_modules', '.bin', 'gru-onnx');

/** Runs the installed bin in `work/` (a subdirectory, so relative paths must resolve from the caller). */
function gruOnnx(...args: string[]) {
  const r = spawnSync(bin, args, { cwd: work, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tarballs: string[] = [];
beforeAll(() => {
  tarballs = packAll(join(dir, 'packs'));
  installPacks(tarballs, project);
  mkdirSync(work, { recursive: true });
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed tarballs in a fresh project', () => {
  it('are one per package', () => {
    expect(tarballs.map((t) => basename(t))).toEqual(['gru-onnx-cli-0.1.0.tgz', 'gru-onnx-model-0.1.0.tgz', 'gru-onnx-onnx-0.1.0.tgz', 'gru-onnx-verify-0.1.0.tgz']);
  });

  it('install a gru-onnx bin that runs on plain Node (no tsx in the project)', () => {
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
    const r = gruOnnx('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: gru-onnx');
    expect(r.stdout).toContain('verify [options]');
  });

  it('--help loads no other package: tfjs, onnxruntime, playwright and the model/onnx/verify code wait for a command', () => {
    // A resolve hook that names every module the bin loads, on stderr.
    const hook = `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, n) { const r = await n(s, c); process.stderr.write(r.url + "\\\\n"); return r; }'));\n`;
    writeFileSync(join(dir, 'trace.mjs'), hook);
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'trace.mjs')).href, bin, '--help'], { cwd: work, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const loaded = r.stderr.split('\n').filter(Boolean);
    expect(loaded.some((u) => u.includes('commander'))).toBe(true);
    expect(loaded.filter((u) => /tensorflow|onnxruntime|playwright|protobufjs|@gru-onnx\/(onnx|verify)\//.test(u))).toEqual([]);
  });

  it('train, export and verify with paths relative to the caller', () => {
    expect(gruOnnx('train', '--out', 'w.safetensors', '--samples', '40', '--epochs', '2').code).toBe(0);
    expect(existsSync(join(work, 'w.safetensors'))).toBe(true);
    expect(gruOnnx('export', '--weights', 'w.safetensors', '--out', 'm.onnx', '--hidden-states').code).toBe(0);
    // browser-wasm too where Chromium is (CI installs it): the page and worker files must have been packed.
    const backends = ['reference', 'ort-cpu', 'ort-wasm', ...(chromiumMissing(chromiumPath()) ? [] : ['browser-wasm'])];
    const v = gruOnnx('verify', '--model', 'm.onnx', '--weights', 'w.safetensors', '--backends', backends.join(','), '--shapes', '1x3', '--report', 'rep');
    expect(v.stderr).not.toMatch(/error/);
    expect(v.code).toBe(0);
    const report = JSON.parse(readFileSync(join(work, 'rep', 'report.json'), 'utf8')) as { backends: { name: string; status: string; versions: Record<string, string> }[] };
    expect(report.backends.map((b) => `${b.name} ${b.status}`)).toEqual(backends.map((b) => `${b} pass`));
    // The runtimes the project installed (verify's peers), as loaded, not this repository's.
    const installed = (name: string) => (JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    expect(report.backends[1]!.versions['onnxruntime-node']).toBe(installed('onnxruntime-node'));
    expect(report.backends[2]!.versions['onnxruntime-web']).toBe(installed('onnxruntime-web'));
  });

  it('an error is one line on stderr, exit 2', () => {
    const r = gruOnnx('inspect', 'missing.onnx');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: FILE.onnx: no such file 'missing.onnx'\n");
    expect(r.stdout).toBe('');
    // bench needs this repository's tools/bench, which the packages do not carry.
    expect(gruOnnx('bench')).toMatchObject({ code: 2, stderr: 'error: bench runs the benchmarks of a gru-onnx checkout (tools/bench); an installed package has none\n' });
  });

  it("the README's library example type-checks against the installed declarations and runs on plain Node", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /## As a library[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)![1]!;
    // skipLibCheck as most projects have it (tfjs's own declarations fail strict checks); the probe line fails to
    // compile unless the report's type came through our declarations (an unresolved one would be `any`).
    writeFileSync(join(project, 'example.ts'), `${example}\n// @ts-expect-error exitCode is a number\nexport const probe: string = report.summary.exitCode;\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
        files: ['example.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    writeFileSync(join(project, 'example.mjs'), ts.transpileModule(example, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    const run = spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ort-wasm +pass/m);
  });

  it("the library imports from the project: import('@gru-onnx/verify')", () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const v = await import('@gru-onnx/verify'); const c = await import('@gru-onnx/cli'); console.log(typeof v.verifyModel, typeof c.main)"], { cwd: project, encoding: 'utf8' });
    expect(out.trim()).toBe('function function');
  });
});
