import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { SUMMARY } from './summary.ts';
import { configFromParams, loadSourceModel, PYTORCH_HEADS, PYTORCH_NONLINEARITIES, pytorchForward, sha256Hex, SOURCE_KINDS, sourceSizes, type PytorchHead, type PytorchNonlinearity, type SourceModel } from '@gru-onnx/model';
import type { Io } from '../io.ts';
import { cudaFallbackNodes, DEFAULT_OPSET, EXPORT_FORMS, EXPORT_TARGETS, MAX_OPSET, MIN_OPSET, exportSourceModel, onnx, saveModel, summarizeModel, type ExportForm, type ExportTarget, type ModelSummary, type ValueSummary } from '@gru-onnx/onnx';
import type { Context } from '../context.ts';
import { log, printJson, println } from '../io.ts';
import { intArg } from '../parsers.ts';
import { requirePath } from '../files.ts';

/** Where the weights come from; `auto` detects it from the file (issue 6). */
export const SOURCES = ['auto', ...SOURCE_KINDS] as const;
export type SourceKind = (typeof SOURCES)[number];

interface ExportOpts {
  weights: string;
  out: string;
  form: ExportForm;
  target: ExportTarget;
  opset: number;
  hiddenStates?: boolean;
  h0?: boolean;
  hN?: boolean;
  source: SourceKind;
  head?: PytorchHead;
  nonlinearity?: PytorchNonlinearity;
  json?: boolean;
}

export function sourceOption(): Option {
  return new Option('--source <kind>', "what --weights holds: the seed's checkpoint, a PyTorch nn.GRU, nn.LSTM or nn.RNN classifier (safetensors) or a tfjs-layers model.json (or its directory); auto detects it from the file")
    .choices(SOURCES)
    .default('auto');
}

export function headOption(): Option {
  return new Option(
    '--head <head>',
    "what a PyTorch model's Linear reads of the GRU, LSTM or RNN (forward() is not in a state_dict): final-state = fc(h_n[-1]) or fc(cat(h_n[-2], h_n[-1])); last-step = fc(out[:, -1]); mean = fc(out.mean(dim=1)); required where they differ (bidirectional), else final-state",
  ).choices(PYTORCH_HEADS);
}

export function nonlinearityOption(): Option {
  return new Option('--nonlinearity <fn>', "a PyTorch nn.RNN's nonlinearity, which its state_dict does not hold (save_state_dict records it in __metadata__); only for nn.RNN").choices(PYTORCH_NONLINEARITIES);
}

/**
 * Says on stderr, for a PyTorch import, which forward() the export and the reference assume, and that only a
 * capture of the user's own module can confirm it: a state_dict holds the weights, not the computation.
 */
export function announceForward(io: Io, source: SourceModel): void {
  if (source.kind === 'seed' || source.kind === 'tfjs-layers') return;
  const layout = source.batchFirst === undefined ? 'batch_first=True assumed (the file does not say)' : `batch_first=${source.batchFirst ? 'True' : 'False'}`;
  const nonlinearity = source.kind === 'pytorch-rnn' ? `; nonlinearity='${source.nonlinearity}'` : '';
  log(io, `assumed forward (--head ${source.head}${source.headDeclared ? '' : ', the default where it equals last-step'}): ${pytorchForward(source)}; ${layout}${nonlinearity}`);
  log(io, 'note: a state_dict holds weights, not forward(); only a capture of your own module confirms this (python/gru_onnx_torch.py capture, then verify --bundle)');
}

export function exportCommand(ctx: Context): Command {
  return new Command('export')
    .description(SUMMARY.export)
    .requiredOption('--weights <file>', 'checkpoint (.safetensors), or tfjs-layers model.json or its directory')
    .requiredOption('--out <file.onnx>', 'ONNX model to write')
    .addOption(
      new Option('--form <form>', 'fused = one GRU/LSTM/RNN node per layer; scan = primitive ops in a loop (for runtimes without the kernel); auto = per target and cell, the faster of the two (fused for small batches, scan for large where that was measured faster)')
        .choices(EXPORT_FORMS)
        .default('auto'),
    )
    .addOption(
      new Option('--target <runtime>', "the runtime the model is for; with --form auto, cuda gets the fused node only where onnxruntime's CUDA EP has a cuDNN kernel for it (not the seed's GRU, not linear_before_reset 0, not non-default activations), else the scan form")
        .choices(EXPORT_TARGETS)
        .default('cpu'),
    )
    .option('--opset <n>', `ONNX opset (${MIN_OPSET}–${MAX_OPSET}, where ONNX GRU keeps the seed's semantics)`, intArg(MIN_OPSET, MAX_OPSET), DEFAULT_OPSET)
    .option('--hidden-states', 'add output hidden_states [batch, seq, hidden] (every step; lets verify find the first diverging step); for an import, the last layer\'s outputs [batch, seq, dirs·hidden]')
    .option('--h0', 'add input h0 [batch, hidden] (default: h_0 = 0, as the seed); for an import, h0 [layers·dirs, batch, hidden] as PyTorch\'s, and c0 likewise for LSTM layers')
    .option('--h-n', 'add output h_n [batch, hidden], the last hidden state; for an import, h_n [layers·dirs, batch, hidden] as PyTorch\'s, and c_n for LSTM layers')
    .addOption(sourceOption())
    .addOption(headOption())
    .addOption(nonlinearityOption())
    .option('--json', 'print the summary as JSON on stdout')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Every form is exact for every sequence length. The model's metadata records the model config and the SHA-256
of the weights file.

Examples:
  $ pnpm gru-onnx export --weights model.safetensors --out model.onnx
  $ pnpm gru-onnx export --weights model.safetensors --out model.onnx --form fused --opset 13 --hidden-states
  $ pnpm gru-onnx export --weights tfjs-model/model.json --out model.onnx      # TensorFlow.js -> ONNX, no Python
  $ pnpm gru-onnx export --weights bigru.safetensors --head last-step --out model.onnx   # forward returns fc(out[:, -1])
  $ pnpm gru-onnx export --weights bigru.safetensors --head final-state --h0 --h-n --hidden-states --out model.onnx`,
    )
    .action((opts: ExportOpts) => {
      requirePath('--weights', opts.weights, 'any');
      const { bytes, kind } = exportFromWeights(opts, ctx.io);
      saveModel(opts.out, bytes);
      if (opts.target === 'cuda' && kind !== 'seed') {
        // Documented CUDA EP kernel support (recurrent-chain.ts cudnnRunsLayer): such nodes run on the CPU EP.
        const fallback = cudaFallbackNodes(onnx.ModelProto.decode(bytes));
        if (fallback.length > 0) log(ctx.io, `warning: --target cuda: onnxruntime's CUDA EP has no cuDNN kernel for ${fallback.join(', ')} (linear_before_reset 0 or non-default activations); they will run on the CPU EP (verify reports ort-cuda as partial); --form auto writes the scan form there`);
      }
      const summary = summarizeModel(bytes);
      const sha256 = sha256Hex(bytes);
      if (opts.json) printJson(ctx.io, { model: opts.out, weights: opts.weights, source: kind, bytes: bytes.byteLength, sha256, summary });
      else println(ctx.io, `wrote ${opts.out}: ${exportLine(kind, summary)}, ${bytes.byteLength} bytes, sha256 ${sha256.slice(0, 16)}…`);
      ctx.exitCode = 0;
    });
}

/** `seed model, auto form, opset 17: x [batch, seq, 8] -> logits [batch, 4], 1,268 parameters` */
function exportLine(kind: string, s: ModelSummary): string {
  const io = (vs: ValueSummary[]) => vs.map((v) => `${v.name} [${(v.dims ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
  const form = s.metadata['gru_onnx.form'] ?? 'fused';
  const opset = s.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  return `${kind} model, ${form} form, opset ${opset}: ${io(s.inputs)} -> ${io(s.outputs)}, ${s.parameterCount.toLocaleString('en-US')} parameters`;
}

/** Loads the weights named by --weights/--source (detected when `auto`), with --head for a PyTorch model. */
export function loadWeights(opts: { weights: string; source: SourceKind; head?: PytorchHead | undefined; nonlinearity?: PytorchNonlinearity | undefined }): SourceModel {
  return loadSourceModel(opts.weights, opts.source === 'auto' ? undefined : opts.source, {
    ...(opts.head !== undefined ? { head: opts.head } : {}),
    ...(opts.nonlinearity !== undefined ? { nonlinearity: opts.nonlinearity } : {}),
  });
}

/** Exports the weights with the command's ONNX options; metadata records the model's sizes and the weights' SHA-256. */
export function exportFromWeights(opts: Omit<ExportOpts, 'out' | 'json'>, io?: Io): { bytes: Uint8Array; kind: SourceModel['kind'] } {
  const source = loadWeights(opts);
  const sizes = source.kind === 'seed' ? configFromParams(source.params) : sourceSizes(source);
  const bytes = exportSourceModel(source, {
    form: opts.form,
    target: opts.target,
    opset: opts.opset,
    hiddenStates: opts.hiddenStates === true,
    h0: opts.h0 === true,
    hN: opts.hN === true,
    metadata: {
      'gru_onnx.config': JSON.stringify(sizes),
      'gru_onnx.weights_sha256': sha256Hex(readFileSync(weightsFile(opts.weights))),
    },
  });
  // After the export succeeded: a refused one is one error line.
  if (io) announceForward(io, source);
  return { bytes, kind: source.kind };
}

/** The file whose hash identifies the weights: the path itself, or model.json for a tfjs model directory. */
export function weightsFile(path: string): string {
  return statSync(path).isDirectory() ? join(path, 'model.json') : path;
}
