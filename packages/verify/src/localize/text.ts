import type { LocalizationReport } from './localize.ts';

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v));

/**
 * A localization as lines of text (console, Markdown and HTML say the same): the verdict, then the node's op type,
 * domain, place, iteration, EP, inputs, attributes, output errors, the repro and the number of instrumented runs.
 */
export function localizationLines(backend: string, l: LocalizationReport): string[] {
  const at = `${l.case}${l.step !== undefined ? `, step ${l.step}` : ''}`;
  const head = `${backend} vs ${l.baseline} (${at}): ${l.message}`;
  const runs = `instrumented runs: ${l.instrumentedRuns} per backend`;
  const n = l.node;
  if (!n) return [head, runs];
  const attrs = Object.entries(n.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    head,
    `node: ${n.name ? `'${n.name}'` : `(unnamed, making ${n.outputs.map((o) => o.name).join(', ')})`} ${n.opType} (domain ${n.domain}) in ${n.where}${n.iteration !== undefined ? `, iteration ${n.iteration}` : ''}; execution provider on ${backend}: ${n.executionProvider ?? 'not reported'}`,
    `inputs: ${n.inputs.map((i) => `${i.name} ${i.dtype} [${i.dims.join(', ')}]${i.constant ? ' (constant)' : ''}`).join('; ') || 'none'}`,
    `attributes: ${attrs || 'none'}`,
    `outputs: ${n.outputs.map((o) => `${o.name} ${o.dtype} [${o.dims.join(', ')}] ${o.status}, max abs ${fmt(o.maxAbs)}, max rel ${fmt(o.maxRel)}`).join('; ')}`,
    ...(l.repro ? [`repro: ${l.repro.verdict} (max abs ${fmt(l.repro.maxAbs)}; tried: ${l.repro.tried})${l.repro.dir ? `; written to ${l.repro.dir}` : ''}`] : []),
    runs,
  ];
}
