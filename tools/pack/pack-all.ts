/**
 * `pnpm pack:all`: builds every package and writes one tarball per package into packs/ (gitignored), the files a
 * user `npm i`s into their own project (README, "Use it in your project").
 *   npx tsx tools/pack/pack-all.ts [--out DIR]
 * pnpm packs, not npm: it turns the `workspace:*` ranges between the packages into their versions.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, PACKAGES } from './build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** pnpm as the running script was started (`pnpm pack:all` sets npm_execpath), else the pinned one through npx. */
function pnpm(args: string[]): void {
  const exec = process.env.npm_execpath;
  if (exec && /pnpm/.test(exec)) execFileSync(exec.endsWith('js') ? process.execPath : exec, [...(exec.endsWith('js') ? [exec] : []), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  else execFileSync('npx', ['-y', 'pnpm@12.4.2', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Builds, packs every package into `out` (emptied first) and returns the tarballs' paths. */
export function packAll(out = join(ROOT, 'packs')): string[] {
  build();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const p of PACKAGES) pnpm(['-C', join(ROOT, 'packages', p), 'pack', '--pack-destination', out]);
  const tarballs = readdirSync(out).filter((f) => f.endsWith('.tgz')).sort();
  if (tarballs.length !== PACKAGES.length) throw new Error(`expected ${PACKAGES.length} tarballs in ${out}, found: ${tarballs.join(', ') || 'none'}`);
  return tarballs.map((f) => join(out, f));
}

/**
 * A fresh project in `project` with the tarballs installed, as the README's "Use it in your project" does it;
 * returns the path of its gru-onnx bin. onnxruntime-node's install script would fetch CUDA libraries from NuGet
 * (npm 10 runs install scripts; ONNXRUNTIME_NODE_INSTALL=skip is the script's own switch).
 */
export function installPacks(tarballs: string[], project: string): string {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], {
    cwd: project,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return join(project, 'node_modules', '.bin', 'gru-onnx');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  for (const t of packAll(i > 0 ? resolve(process.argv[i + 1] ?? 'packs') : undefined)) console.log(t);
}
