import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { configFromParams, loadSourceModel, sha256Hex, SOURCE_KINDS, sourceSizes, type SourceModel } from '@gru-onnx/model';
import { DEFAULT_OPSET, EXPORT_FORMS, EXPORT_TARGETS, MAX_OPSET, MIN_OPSET, exportSourceModel, saveModel, summarizeModel, type ExportForm, type ExportTarget, type ModelSummary, type ValueSummary } from '@gru-onnx/onnx';
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
  json?: boolean;
}

export function sourceOption(): Option {
  return new Option('--source <kind>', "what --weights holds: the seed's checkpoint, a PyTorch nn.GRU classifier (safetensors) or a tfjs-layers model.json (or its directory); auto detects it from the file")
    .choices(SOURCES)
    .default('auto');
}

export function exportCommand(ctx: Context): Command {
  return new Command('export')
    .description('write an ONNX model from a checkpoint (seed, PyTorch nn.GRU or tfjs-layers)')
    .requiredOption('--weights <file>', 'checkpoint (.safetensors), or tfjs-layers model.json or its directory')
    .requiredOption('--out <file.onnx>', 'ONNX model to write')
    .addOption(
      new Option('--form <form>', 'fused = one GRU node; scan = primitive ops in a loop (for runtimes without a GRU kernel); auto = fused for small batches, scan for large, chosen at run time')
        .choices(EXPORT_FORMS)
        .default('auto'),
    )
    .addOption(
      new Option('--target <runtime>', "the runtime the model is for; with --form auto, cuda gets the scan form (onnxruntime's CUDA EP runs the seed's fused GRU on the CPU)")
        .choices(EXPORT_TARGETS)
        .default('cpu'),
    )
    .option('--opset <n>', `ONNX opset (${MIN_OPSET}–${MAX_OPSET}, where ONNX GRU keeps the seed's semantics)`, intArg(MIN_OPSET, MAX_OPSET), DEFAULT_OPSET)
    .option('--hidden-states', 'add output hidden_states [batch, seq, hidden] (every step; lets verify find the first diverging step)')
    .option('--h0', 'add input h0 [batch, hidden] (default: h_0 = 0, as the seed)')
    .option('--h-n', 'add output h_n [batch, hidden], the last hidden state')
    .addOption(sourceOption())
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
  $ pnpm gru-onnx export --weights tfjs-model/model.json --out model.onnx      # TensorFlow.js -> ONNX, no Python`,
    )
    .action((opts: ExportOpts) => {
      requirePath('--weights', opts.weights, 'any');
      const { bytes, kind } = exportFromWeights(opts);
      saveModel(opts.out, bytes);
      if (kind === 'tfjs-layers' && opts.target === 'cuda') {
        // tfjs's GRU (reset_after false) is linear_before_reset 0, for which onnxruntime 1.29's CUDA EP has no kernel.
        log(ctx.io, "warning: --target cuda: this tfjs GRU is ONNX linear_before_reset 0, which onnxruntime's CUDA EP has no kernel for; its GRU nodes will run on the CPU EP (verify reports ort-cuda as partial)");
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

/** Loads the weights named by --weights/--source (detected when `auto`). */
export function loadWeights(opts: { weights: string; source: SourceKind }): SourceModel {
  return loadSourceModel(opts.weights, opts.source === 'auto' ? undefined : opts.source);
}

/** Exports the weights with the command's ONNX options; metadata records the model's sizes and the weights' SHA-256. */
export function exportFromWeights(opts: Omit<ExportOpts, 'out' | 'json'>): { bytes: Uint8Array; kind: SourceModel['kind'] } {
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
  return { bytes, kind: source.kind };
}

/** The file whose hash identifies the weights: the path itself, or model.json for a tfjs model directory. */
function weightsFile(path: string): string {
  return statSync(path).isDirectory() ? join(path, 'model.json') : path;
}
