import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { BACKENDS, probeAll, runtimeVersionNote, type ProbeReport } from '@gru-onnx/verify';
import { SUMMARY } from './summary.ts';
import type { Context } from '../context.ts';
import { log, printJson, println } from '../io.ts';

interface DoctorOpts {
  json?: boolean;
}

export function doctorCommand(ctx: Context): Command {
  return new Command('doctor')
    .description(SUMMARY.doctor)
    .option('--json', 'print the probes as JSON on stdout')
    .option('--verbose', 'stack traces on errors')
    .addHelpText(
      'after',
      `
Exits 0 whenever the probes ran: an unavailable backend is information, not an error (make one mandatory with
\`verify --require\`, which exits 3 without it).

Examples:
  $ pnpm gru-onnx doctor
  $ pnpm gru-onnx doctor --json | jq '.backends[] | select(.available | not) | .enable'`,
    )
    .action(async (opts: DoctorOpts) => {
      log(ctx.io, `probing ${BACKENDS.length} backends (a browser probe starts Chromium) ...`);
      const probes = await probeAll(BACKENDS);
      const environment = { node: process.version, platform: process.platform, arch: process.arch, cpus: availableParallelism() };
      if (opts.json) printJson(ctx.io, { environment, backends: probes.map(flatten) });
      else println(ctx.io, doctorText(environment, probes));
      ctx.exitCode = 0;
    });
}

function flatten(p: ProbeReport) {
  return { name: p.name, ...p.probe };
}

const kv = (o: Record<string, string | number | boolean>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');

/** One block per backend: status line, then versions and settings, or the reason and how to enable it. */
export function doctorText(env: { node: string; platform: string; arch: string; cpus: number }, probes: ProbeReport[]): string {
  const width = Math.max(...probes.map((p) => p.name.length));
  const lines = [`Node ${env.node} on ${env.platform}-${env.arch}, ${env.cpus} CPUs`, ''];
  for (const { name, probe } of probes) {
    const head = `${name.padEnd(width)}  ${probe.available ? 'available  ' : 'unavailable'}`;
    if (probe.available) {
      lines.push(`${head}  ${kv(probe.versions) || '-'}`);
      if (Object.keys(probe.settings).length > 0) lines.push(`${' '.repeat(width + 15)}settings: ${kv(probe.settings)}`);
    } else {
      lines.push(`${head}  ${probe.reason}`);
      if (probe.enable) lines.push(`${' '.repeat(width + 15)}to enable: ${probe.enable}`);
    }
  }
  const n = probes.filter((p) => p.probe.available).length;
  const note = runtimeVersionNote(probes.map((p) => (p.probe.available ? p.probe.versions : {})));
  lines.push('', `${n} of ${probes.length} backends available`);
  if (note) lines.push(note);
  return lines.join('\n');
}
