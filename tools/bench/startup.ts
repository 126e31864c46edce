/**
 * Start-up (issue 17, part 3): `gru-onnx --help` from the installed bin, wall time, beside `node -e 0` (the floor
 * any Node command pays) and the ratio; target ≤ 0.3 s. By default it packs the packages and installs them into
 * a fresh temporary project first (as README "Use it in your project" does; about a minute), then times that
 * project's node_modules/.bin/gru-onnx. `npx gru-onnx --help` is printed too: npx adds its own start-up.
 *
 *   npx tsx tools/bench/startup.ts [--bin PATH] [--runs N]
 *
 * --bin: time this bin instead (e.g. an installed project's node_modules/.bin/gru-onnx); --runs: per command,
 * interleaved, default 20. The machine is shared: the load average is printed, figures are medians.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPacks, packAll } from '../pack/pack-all.ts';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

function wallMs(file: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  execFileSync(file, args, { cwd, stdio: 'ignore' });
  return performance.now() - t0;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const binAt = argv.indexOf('--bin');
  const runsAt = argv.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 20;
  const dir = binAt >= 0 ? undefined : mkdtempSync(join(tmpdir(), 'gru-onnx-startup-'));
  try {
    let bin: string;
    if (dir) {
      console.log('packing and installing into a fresh project ...');
      bin = installPacks(packAll(join(dir, 'packs')), join(dir, 'project'));
    } else {
      bin = argv[binAt + 1]!;
    }
    const project = dirname(dirname(dirname(bin)));
    console.log(`load average before: ${load()}`);
    const t: Record<string, number[]> = { 'node -e 0': [], 'gru-onnx --help': [], 'npx gru-onnx --help': [] };
    for (let i = 0; i < runs; i++) {
      t['node -e 0']!.push(wallMs(process.execPath, ['-e', '0'], project));
      t['gru-onnx --help']!.push(wallMs(bin, ['--help'], project));
      if (i < Math.min(runs, 5)) t['npx gru-onnx --help']!.push(wallMs('npx', ['--no-install', 'gru-onnx', '--help'], project));
    }
    const floor = median(t['node -e 0']!);
    console.log(`\n| command (${bin}) | median wall | min | ÷ node -e 0 |\n| --- | ---: | ---: | ---: |`);
    for (const [k, v] of Object.entries(t)) console.log(`| ${k} | ${(median(v) / 1000).toFixed(3)} s | ${(Math.min(...v) / 1000).toFixed(3)} s | ${(median(v) / floor).toFixed(2)}× |`);
    console.log(`target: gru-onnx --help ≤ 0.3 s wall; load average after: ${load()}`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
