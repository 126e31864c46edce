import { basename } from 'node:path';
import { Command } from 'commander';
import { SUMMARY } from './summary.ts';
import { checkModel, readModelFile, summarizeModel, type CheckIssue, type ModelSummary, type ValueSummary } from '@gru-onnx/onnx';
import type { Context } from '../context.ts';
import { requirePath } from '../files.ts';
import { printJson, println } from '../io.ts';

interface InspectOpts {
  json?: boolean;
}

export function inspectCommand(ctx: Context): Command {
  return new Command('inspect')
    .description(SUMMARY.inspect)
    .argument('<file.onnx>', 'the model to read')
    .option('--json', 'print the summary as JSON on stdout (packages/onnx/src/summary.schema.json)')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
The text form ends with the structural checker's verdict; it is information (exit 0): a file that cannot be
decoded at all is exit 2.

Examples:
  $ pnpm gru-onnx inspect gru-onnx-out/model.onnx
  $ pnpm gru-onnx inspect model.onnx --json | jq .nodeCounts`,
    )
    .action((file: string, opts: InspectOpts) => {
      requirePath('FILE.onnx', file, 'file');
      const model = readModelFile(file);
      const summary = summarizeModel(model);
      if (opts.json) printJson(ctx.io, summary);
      else println(ctx.io, inspectText(basename(file), summary, checkModel(model)));
      ctx.exitCode = 0;
    });
}

const dims = (v: ValueSummary): string => (v.dims === null ? '(no shape)' : `[${v.dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`);

/** The summary as a person reads it; the checker's findings last. */
export function inspectText(name: string, s: ModelSummary, issues: CheckIssue[]): string {
  const values = (vs: ValueSummary[]) => {
    const w = Math.max(0, ...vs.map((v) => v.name.length));
    return vs.map((v) => `  ${v.name.padEnd(w)}  ${v.elemType} ${dims(v)}`);
  };
  const producer = [s.producerName, s.producerVersion].filter(Boolean).join(' ') || 'unknown producer';
  const lines = [
    `${name}: ONNX IR ${s.irVersion}, ${producer}`,
    `opsets: ${s.opsetImports.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ') || 'none'}`,
    'inputs:',
    ...values(s.inputs),
    'outputs:',
    ...values(s.outputs),
    `nodes: ${s.nodeCount} (${Object.entries(s.nodeCounts).map(([op, n]) => `${op} ${n}`).join(', ')})`,
    `parameters: ${s.parameterCount.toLocaleString('en-US')} in ${s.initializers.length} initializers${s.constantNodes > 0 ? ` and ${s.constantNodes} Constant nodes (${s.constantParameterCount.toLocaleString('en-US')} of them)` : ''}`,
  ];
  const meta = Object.entries(s.metadata);
  if (meta.length > 0) lines.push('metadata:', ...meta.map(([k, v]) => `  ${k} = ${v}`));
  if (issues.length === 0) lines.push('checker: ok');
  else lines.push(`checker: ${issues.length} problem${issues.length === 1 ? '' : 's'}`, ...issues.map((i) => `  ${i.message}`));
  return lines.join('\n');
}
