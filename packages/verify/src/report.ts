import type { LocalizationReport } from './localize/localize.ts';
import type { OutputComparison, Tolerance, WorstElement } from './compare.ts';
import type { StepAnalysis } from './divergence.ts';
import type { DecisionReport } from './compare/decisions.ts';
import type { CaseKind, Shape, ValueSignature } from './inputs.ts';
import type { BackendName, Placement } from './runner.ts';

/** Bumped on any change a consumer of the JSON could notice; docs/report-schema.json describes each version. */
export const REPORT_SCHEMA_VERSION = 1;

/** `baseline`: this backend's outputs are the expected values (it is not compared with itself). */
export type BackendStatus = 'pass' | 'fail' | 'partial' | 'unavailable' | 'error' | 'baseline';
export type CaseStatus = 'pass' | 'fail' | 'partial' | 'error' | 'skipped';

export interface CaseReport {
  id: string;
  status: CaseStatus;
  /** Why the run failed (exception, timeout) or was skipped. */
  error?: string;
  outputs: OutputComparison[];
  /** Decision flips against the expected values, per --decision. */
  decisions?: DecisionReport[];
  /** A stateful run (--steps, --carry): the error per step and the first step out of tolerance. */
  stepRun?: StepRunReport;
  /** `hidden_states` compared step by step, where the model has it. */
  steps?: StepAnalysis;
  /** runMs: the whole run, compare included; sessionMs: the part spent creating a session (only runs that made one). */
  timing: { runMs: number; sessionMs?: number };
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
  /** For accelerated backends: every node that ran off the accelerator, counted per op type (shape ops included). */
  fallbackByOpType?: Record<string, number>;
  /** Largest max abs error over every case and output (finite pairs). */
  maxAbs: number;
  cases: CaseReport[];
  /** --localize: where this backend first diverges from the baseline (failing backends only). */
  localization?: LocalizationReport;
  timing: { probeMs: number; totalMs: number };
}

/** A stateful case: its steps, what was carried, max abs error per step (over outputs), the first step that failed. */
export interface StepRunReport {
  steps: number;
  carry: string[];
  perStepMaxAbs: (number | string)[];
  /** null when every step stayed within tolerance. */
  firstOutOfTolerance: { step: number; output?: string; first?: WorstElement } | null;
}

/** One input generated from the model's signature: its dtype, shape, and the spec that filled it (e.g. normal(0,1)). */
export interface InputSpecReport {
  name: string;
  dtype: string;
  dims: number[];
  spec: string;
}

export interface Report {
  schemaVersion: number;
  /** ISO timestamp: with the `timing` fields, the only parts that differ between two runs of the same inputs. */
  generatedAt: string;
  tool: { name: string; version: string };
  /** randomOps: random ops in the graph (Bernoulli, RandomNormal, Dropout in training…): outputs differ between runs by design. */
  model: { sha256: string; bytes: number; inputs: ValueSignature[]; outputs: ValueSignature[]; randomOps?: string[] };
  /** Where the expected values come from; `backend` names the baseline backend when source is `baseline`. */
  expected: { source: 'reference' | 'bundle' | 'baseline'; backend?: BackendName; description: string };
  /** What the reader must know before trusting the comparison: weights that are not the model's, inputs matched by position. */
  warnings?: string[];
  input: { source: 'generated' | 'bundle' | 'user' | 'signature'; seed: number | null; shapes: Shape[]; saturatingMagnitude: number | null; specs?: InputSpecReport[] };
  comparison: { rule: string; relativeError: string; relFloor: number; nonFinite: string; histogramBins: string[] };
  /** onnxruntimeVersions: set when onnxruntime-node and onnxruntime-web differ, saying why. */
  environment: { node: string; platform: string; arch: string; onnxruntimeVersions?: string };
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

/**
 * What the expected values are, as every report names them: with a baseline backend, "ort-cpu's outputs" (its
 * own numbers, not a truth), so no reader mistakes agreement with it for correctness.
 */
export function expectedLabel(expected: Report['expected']): string {
  if (expected.source === 'baseline') return `${expected.backend ?? 'the baseline'}'s outputs`;
  return expected.source === 'reference' ? 'the float64 reference' : "the bundle's stored outputs";
}

export const fmtErr = (v: number): string => (v === 0 ? '0' : v.toExponential(2));
