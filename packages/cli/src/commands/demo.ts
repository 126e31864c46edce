import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { SUMMARY } from './summary.ts';
import { makeDirectory, SEED_CONFIG, SEED_TRAIN, saveCheckpoint, UserError } from '@gru-onnx/model';
import { DEFAULT_OPSET, saveModel } from '@gru-onnx/onnx';
import type { Context } from '../context.ts';
import { log, println } from '../io.ts';
import { exportFromWeights } from './export.ts';
import { configOf, runTraining, trainingMetadata, trainOf } from './train.ts';
import { runVerify } from './verify.ts';

export const DEFAULT_DEMO_DIR = 'gru-onnx-out';

/** What `demo` leaves in DIR. */
export const DEMO_FILES = {
  checkpoint: 'checkpoint.safetensors',
  model: 'model.onnx',
  bundle: 'bundle',
  reportHtml: 'report.html',
} as const;

interface DemoOpts {
  out: string;
}

export function demoCommand(ctx: Context): Command {
  return new Command('demo')
    .description(SUMMARY.demo)
    .option('--out <dir>', 'directory for checkpoint, model, report and bundle', DEFAULT_DEMO_DIR)
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Writes DIR/checkpoint.safetensors, DIR/model.onnx (default form, with hidden_states), DIR/report.{json,md,html}
and DIR/bundle/. Prints the seed's lines, then the parity table, and last the path of the HTML report.
The exit code is verify's: 0 all passed, 1 a mismatch. Ctrl-C stops cleanly (exit 130).

Examples:
  $ pnpm demo
  $ pnpm gru-onnx demo --out /tmp/gru-demo && xdg-open /tmp/gru-demo/report.html`,
    )
    .action(async (opts: DemoOpts) => {
      const dir = resolve(opts.out);
      try {
        makeDirectory(dir);
      } catch (err) {
        throw new UserError(`--out: cannot create directory '${opts.out}' (${err instanceof Error && 'code' in err ? String(err.code) : err instanceof Error ? err.message : String(err)})`);
      }
      const seed = { ...SEED_CONFIG, ...SEED_TRAIN, backend: 'auto' as const };
      const { result } = await runTraining(ctx, seed, false);
      const checkpoint = join(dir, DEMO_FILES.checkpoint);
      saveCheckpoint(checkpoint, { config: configOf(seed), params: result.params, metadata: trainingMetadata(trainOf(seed), result) });
      log(ctx.io, `saved ${checkpoint}`);

      const model = join(dir, DEMO_FILES.model);
      saveModel(model, exportFromWeights({ weights: checkpoint, source: 'seed', form: 'auto', target: 'cpu', opset: DEFAULT_OPSET, hiddenStates: true }).bytes);
      log(ctx.io, `exported ${model}`);

      ctx.exitCode = await runVerify(ctx, {
        model,
        weights: checkpoint,
        source: 'seed',
        report: dir,
        saveBundle: join(dir, DEMO_FILES.bundle),
      });
      // The last line, so a script (and the README) can open it: `... | tail -1`.
      println(ctx.io, join(dir, DEMO_FILES.reportHtml));
    });
}
