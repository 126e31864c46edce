import { Command, Option } from 'commander';
import { SUMMARY } from './summary.ts';
import { SEED_CONFIG, SEED_TRAIN, saveCheckpoint, trainSeedModel, TFJS_BACKENDS, type ModelConfig, type TfjsBackendChoice, type TrainConfig, type TrainResult } from '@gru-onnx/model';
import type { Context } from '../context.ts';
import { InterruptedError } from '../exit-codes.ts';
import { createProgress, log, printJson, println, type Io } from '../io.ts';
import { floatArg, intArg } from '../parsers.ts';

/** Upper bounds on what `train` accepts: far above the seed's sizes, low enough to refuse typos like 1e9. */
const MAX = { samples: 10_000_000, seqLen: 100_000, size: 65_536, epochs: 1_000_000, seed: 0xffffffff } as const;

interface TrainOpts {
  out: string;
  samples: number;
  seqLen: number;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  backend: TfjsBackendChoice;
  json?: boolean;
}

/** Options shared with `demo`'s training step: the seed's recipe and sizes, each overridable. */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .option('--samples <n>', 'training samples', intArg(1, MAX.samples), SEED_TRAIN.samples)
    .option('--seq-len <n>', 'sequence length of the training data', intArg(1, MAX.seqLen), SEED_TRAIN.seqLen)
    .option('--input-size <n>', 'features per time step', intArg(1, MAX.size), SEED_CONFIG.inputSize)
    .option('--hidden-size <n>', 'GRU hidden units', intArg(1, MAX.size), SEED_CONFIG.hiddenSize)
    .option('--output-size <n>', 'classes (at least 2)', intArg(2, MAX.size), SEED_CONFIG.outputSize)
    .option('--epochs <n>', 'training epochs', intArg(1, MAX.epochs), SEED_TRAIN.epochs)
    .option('--lr <x>', 'Adam learning rate', floatArg(0, 10, { exclusiveMin: true }), SEED_TRAIN.lr)
    .option('--batch-size <n>', 'mini-batch size; 0 = full batch, as the seed', intArg(0, MAX.samples), SEED_TRAIN.batchSize)
    .option('--seed <n>', 'random seed for data, initial weights and shuffling', intArg(0, MAX.seed), SEED_TRAIN.seed)
    .addOption(
      new Option('--backend <name>', 'tfjs backend; auto = tensorflow (tfjs-node) when installed, else wasm')
        .choices(TFJS_BACKENDS)
        .default('auto'),
    );
}

export function trainCommand(ctx: Context): Command {
  const cmd = new Command('train')
    .description(SUMMARY.train)
    .requiredOption('--out <file>', 'checkpoint to write (safetensors, PyTorch state_dict names)');
  addTrainOptions(cmd)
    .option('--json', 'print a JSON summary on stdout (the seed lines go to stderr)')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Prints the seed's lines (loss every 5 epochs, then test accuracy) and the tfjs backend in use.

Examples:
  $ pnpm gru-onnx train --out model.safetensors
  $ pnpm gru-onnx train --out big.safetensors --samples 20000 --hidden-size 64 --batch-size 256 --backend cpu`,
    )
    .action(async (opts: TrainOpts) => {
      const { result } = await runTraining(ctx, opts, opts.json === true);
      saveCheckpoint(opts.out, { config: configOf(opts), params: result.params, metadata: trainingMetadata(trainOf(opts), result) });
      if (opts.json) {
        printJson(ctx.io, { checkpoint: opts.out, config: configOf(opts), train: trainOf(opts), ...summaryOf(result) });
      } else {
        log(ctx.io, `saved ${opts.out}`);
      }
      ctx.exitCode = 0;
    });
  return cmd;
}

export function configOf(o: Pick<TrainOpts, 'inputSize' | 'hiddenSize' | 'outputSize'>): ModelConfig {
  return { inputSize: o.inputSize, hiddenSize: o.hiddenSize, outputSize: o.outputSize };
}

export function trainOf(o: Pick<TrainOpts, 'samples' | 'seqLen' | 'epochs' | 'lr' | 'batchSize' | 'seed'>): TrainConfig {
  return { samples: o.samples, seqLen: o.seqLen, epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, seed: o.seed };
}

function summaryOf(r: TrainResult) {
  return { losses: r.losses, testAccuracy: r.testAccuracy, backend: r.backend, seconds: r.seconds, samplesPerSecond: r.samplesPerSecond };
}

/** The checkpoint's `__metadata__` training summary; timings are left out so the file is reproducible. */
export function trainingMetadata(train: TrainConfig, r: TrainResult): Record<string, string> {
  return {
    train: JSON.stringify(train),
    losses: JSON.stringify(r.losses),
    test_accuracy: String(r.testAccuracy),
    tfjs_backend: r.backend,
  };
}

/**
 * Trains with the seed's printed lines on stdout (stderr when `linesToStderr`, for --json), the backend on
 * stderr, and a progress bar over epochs on a TTY. SIGINT stops after the current epoch.
 */
export async function runTraining(
  ctx: Context,
  opts: Omit<TrainOpts, 'out' | 'json'>,
  linesToStderr: boolean,
): Promise<{ result: TrainResult }> {
  const io: Io = ctx.io;
  const train = trainOf(opts);
  const progress = createProgress(io, 'training', train.epochs);
  try {
    const result = await trainSeedModel(
      { config: configOf(opts), train, backend: opts.backend },
      {
        onLine: (line) => {
          // The bar and the seed's lines share the terminal: clear the bar's row, print, let it redraw below.
          progress.clearLine();
          if (linesToStderr) log(io, line);
          else println(io, line);
        },
        onEpoch: (epoch, loss) => {
          // The trainer takes no signal; throwing from its hook stops it between epochs and it cleans up.
          if (ctx.signal.aborted) throw new InterruptedError();
          progress.update(epoch, `loss ${loss.toFixed(4)}`);
        },
      },
    );
    progress.stop();
    log(io, `tfjs backend: ${result.backend}${result.backendNote ? ` (${result.backendNote})` : ''}; ${result.seconds.toFixed(2)} s, ${Math.round(result.samplesPerSecond)} samples/s`);
    return { result };
  } finally {
    progress.stop();
  }
}
