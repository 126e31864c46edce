import { Command } from 'commander';
import type { BackendName } from '@gru-onnx/verify';
import type { Context } from '../context.ts';
import { NotImplementedError } from '../exit-codes.ts';
import { requirePath } from '../files.ts';
import { floatArg, intArg, parseBackends, parseShapes, type SweepShape } from '../parsers.ts';
import { sourceOption, type SourceKind } from './export.ts';
import { UserError } from '@gru-onnx/model';

export interface VerifyOpts {
  model?: string;
  weights?: string;
  bundle?: string;
  source: SourceKind;
  backends?: BackendName[];
  require?: BackendName[];
  shapes?: SweepShape[];
  atol?: number;
  rtol?: number;
  seed?: number;
  timeout?: number;
  report?: string;
  saveBundle?: string;
  json?: boolean;
}

export function verifyCommand(ctx: Context): Command {
  return new Command('verify')
    .description("run an ONNX model on each backend and compare with the original model's answers")
    .option('--model <file.onnx>', 'ONNX model to check (default with --bundle: the bundle\'s model.onnx)')
    .option('--weights <file>', 'the original weights; the reference computes the expected outputs from them')
    .option('--bundle <dir>', 'an ONNX backend-test bundle (model.onnx + test_data_set_N/); compares with its stored outputs')
    .addOption(sourceOption())
    .option('--backends <list>', 'comma-separated backends to try, or all (default: all; unavailable ones are reported, not failed)', parseBackends)
    .option('--require <list>', 'backends that must be available, else exit 3; they are run even if not in --backends', parseBackends)
    .option('--shapes <list>', 'shape sweep as BxT,... (batch x sequence length; default 1x1,1x10,1x64,1x257,3x1,...,64x257)', parseShapes)
    .option('--atol <x>', 'absolute tolerance for every backend (default: per backend, packages/verify/tolerances.json)', floatArg(0, 1))
    .option('--rtol <x>', 'relative tolerance for every backend; an element passes when |a - e| <= atol + rtol * |e|', floatArg(0, 1))
    .option('--seed <n>', 'seed of the generated inputs (recorded in the report)', intArg(0, 0xffffffff))
    .option('--timeout <seconds>', 'per-backend time limit; a backend that exceeds it is reported as error', floatArg(0, 86_400, { exclusiveMin: true }))
    .option('--report <dir>', 'write report.json, report.md and report.html into DIR')
    .option('--save-bundle <dir>', 'write the inputs and expected outputs as an ONNX backend-test bundle')
    .option('--json', 'print the JSON report on stdout instead of the table')
    .option('--verbose', 'stack traces on errors, and per-backend logs')
    .addHelpText(
      'after',
      `
Exit codes: 0 every available backend passes, 1 a mismatch, 2 bad input, 3 a --require'd backend is unavailable.

Examples:
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors --backends ort-cpu,ort-wasm --require ort-cpu --shapes 1x10,64x257
  $ pnpm gru-onnx verify --bundle bundle/ --json > report.json
  $ pnpm gru-onnx verify --model model.onnx --weights model.safetensors --report out/ --save-bundle out/bundle`,
    )
    .action(async (opts: VerifyOpts) => {
      ctx.exitCode = await runVerify(ctx, checkVerifyOpts(opts));
    });
}

/** The cross-option rules commander cannot express; each error names the option. */
export function checkVerifyOpts(opts: VerifyOpts): VerifyOpts {
  if (opts.weights !== undefined && opts.bundle !== undefined) throw new UserError('--weights and --bundle cannot be used together: a bundle carries its own expected outputs');
  if (opts.weights === undefined && opts.bundle === undefined) throw new UserError('one of --weights FILE or --bundle DIR is required');
  if (opts.weights !== undefined && opts.model === undefined) throw new UserError('--model FILE.onnx is required with --weights');
  if (opts.model !== undefined) requirePath('--model', opts.model, 'file');
  if (opts.weights !== undefined) requirePath('--weights', opts.weights, 'file');
  if (opts.bundle !== undefined) requirePath('--bundle', opts.bundle, 'directory');
  return opts;
}

/** Verifies, writes reports and bundle as asked, prints the table (or JSON); returns the exit code. */
export async function runVerify(_ctx: Context, _opts: VerifyOpts): Promise<number> {
  throw new NotImplementedError('verify (verifyModel from @gru-onnx/verify has not landed)');
}
