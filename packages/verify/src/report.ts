import type { OutputComparison, Tolerance } from './compare.ts';
import type { StepAnalysis } from './divergence.ts';
import type { CaseKind, Shape, ValueSignature } from './inputs.ts';
import type { BackendName, Placement } from './runner.ts';

/** Bumped on any change a consumer of the JSON could notice; docs/report-schema.json describes each version. */
export const REPORT_SCHEMA_VERSION = 1;

export type BackendStatus = 'pass' | 'fail' | 'partial' | 'unavailable' | 'error';
export type CaseStatus = 'pass' | 'fail' | 'partial' | 'error' | 'skipped';

export interface CaseReport {
  id: string;
  status: CaseStatus;
  /** Why the run failed (exception, timeout) or was skipped. */
  error?: string;
  outputs: OutputComparison[];
  /** `hidden_states` compared step by step, where the model has it. */
  steps?: StepAnalysis;
  timing: { runMs: number };
}

export interface BackendReport {
  name: BackendName;
  status: BackendStatus;
  /** For unavailable, error, fail and partial: one line saying why. */
  reason?: string;
  /** For unavailable: how to enable the backend. */
  enable?: string;
  versions: Record<string, string>;
  settings: Record<string, string | number | boolean>;
  tolerance: Tolerance & { source: string };
  /** Which execution provider ran each node, as the runtime reported it (empty for reference and tfjs). */
  placements: Placement[];
  /** For accelerated backends (browser-webgpu, ort-cuda): compute nodes (GRU/MatMul/Gemm…) that ran on another EP — the reason it is `partial`. */
  fallbackNodes: Placement[];
  /** Largest max abs error over every case and output (finite pairs). */
  maxAbs: number;
  cases: CaseReport[];
  timing: { probeMs: number; totalMs: number };
}

export interface Report {
  schemaVersion: number;
  /** ISO timestamp: with the `timing` fields, the only parts that differ between two runs of the same inputs. */
  generatedAt: string;
  tool: { name: string; version: string };
  model: { sha256: string; bytes: number; inputs: ValueSignature[]; outputs: ValueSignature[] };
  expected: { source: 'reference' | 'bundle'; description: string };
  /** What the reader must know before trusting the comparison: weights that are not the model's, inputs matched by position. */
  warnings?: string[];
  input: { source: 'generated' | 'bundle' | 'user'; seed: number | null; shapes: Shape[]; saturatingMagnitude: number | null };
  comparison: { rule: string; relativeError: string; relFloor: number; nonFinite: string; histogramBins: string[] };
  environment: { node: string; platform: string; arch: string };
  require: BackendName[];
  cases: { id: string; kind: CaseKind; batch?: number; seq?: number; inputs: { name: string; dims: number[] }[] }[];
  backends: BackendReport[];
  summary: { status: 'pass' | 'fail'; exitCode: number; message: string; counts: Record<BackendStatus, number> };
  timing: { totalMs: number };
}

/**
 * The report with its timestamp and timings removed: what must be byte-identical across runs with the same
 * model, seed and backends (issue 7, determinism).
 */
export function deterministicView(report: Report): unknown {
  return JSON.parse(JSON.stringify(report, (key, value: unknown) => (key === 'timing' || key === 'generatedAt' ? undefined : value)));
}

/** The JSON report, two-space indented with a final newline, keys in a fixed order. */
export function reportToJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export const fmtErr = (v: number): string => (v === 0 ? '0' : v.toExponential(2));
