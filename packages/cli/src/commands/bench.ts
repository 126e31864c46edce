import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { SUMMARY } from './summary.ts';
import { UserError } from '@gru-onnx/model';
import type { Context } from '../context.ts';
import { log } from '../io.ts';

/** tools/bench, from this file (packages/cli/src/commands/). */
const BENCH_DIR = fileURLToPath(new URL('../../../../tools/bench/', import.meta.url));
/** The benchmarks in the order the data flow runs them (train, then export and infer, then the imports at realistic sizes); any other tools/bench/*.ts with a main() follow. */
const ORDER = ['train', 'infer', 'recurrent'];

interface BenchOpts {
  only?: string[];
}

/** A benchmark module: tools/bench/NAME.ts exporting `main()`, which prints its own table and ratios. */
interface BenchModule {
  main(): unknown;
}

function isBenchModule(mod: unknown): mod is BenchModule {
  return typeof mod === 'object' && mod !== null && 'main' in mod && typeof mod.main === 'function';
}

/** Benchmark names: tools/bench/*.ts except tests and helpers (files starting with `_` or ending `.test.ts`). */
export function listBenchmarks(dir = BENCH_DIR): string[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3));
  const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function benchCommand(ctx: Context): Command {
  return new Command('bench')
    .description(SUMMARY.bench)
    .addOption(new Option('--only <names>', 'comma-separated benchmarks to run (default: all in tools/bench)').argParser((v) => v.split(',').map((s) => s.trim())))
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Each benchmark is tools/bench/NAME.ts exporting main(); its output is its own (see the README's benchmark section).
The baselines need Debian's python3-torch; a benchmark says so when it is missing.

Examples:
  $ pnpm bench
  $ pnpm gru-onnx bench --only infer,recurrent`,
    )
    .action(async (opts: BenchOpts) => {
      // The benchmarks and their baselines live in the repository, not in the published packages.
      if (!existsSync(BENCH_DIR)) throw new UserError('bench runs the benchmarks of a gru-onnx checkout (tools/bench); an installed package has none');
      const available = listBenchmarks();
      const names = opts.only ?? available;
      for (const name of names) {
        if (!available.includes(name)) throw new UserError(`--only: no benchmark '${name}' (tools/bench has: ${available.join(', ') || 'none'})`);
      }
      for (const name of names) {
        log(ctx.io, `== bench ${name} ==`);
        const mod: unknown = await import(pathToFileURL(`${BENCH_DIR}${name}.ts`).href);
        if (!isBenchModule(mod)) throw new Error(`tools/bench/${name}.ts does not export main()`);
        await mod.main();
      }
      ctx.exitCode = 0;
    });
}
