import type { SeedParams } from '@gru-onnx/model';
import type { Tensor } from './tensor.ts';

/** Backend names of the command-line contract (docs/architecture.md). */
export const BACKENDS = ['reference', 'tfjs', 'ort-cpu', 'ort-cuda', 'ort-wasm', 'browser-wasm', 'browser-webgpu', 'browser-webgpu-jsep'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** A tensor of any dtype, row-major (tensor.ts); without `dtype` it is float32. */
export type NamedTensor = Tensor;
export type Feeds = Record<string, NamedTensor>;

/** What a probe finds: ready to run (with versions and settings), or unavailable and why. */
export type Probe =
  | { available: true; versions: Record<string, string>; settings: Record<string, string | number | boolean> }
  | { available: false; reason: string; enable: string };

/**
 * Which execution provider ran one node, read from onnxruntime's session profile or verbose log (see
 * placement.ts). Nodes are those of the optimised graph, subgraph nodes included.
 */
export interface Placement {
  node: string;
  opType: string;
  ep: string;
  /** The log gave only "all N nodes on EP"; the node name and op type were taken from the model file. */
  inferred?: boolean;
  /** For a node inside a Scan/Loop/If body: the owning node and attribute, e.g. "scan.body", "if.then_branch". */
  subgraph?: string;
}

/** A float64 tensor: the reference runner's outputs before rounding to float32. */
export interface NamedTensor64 {
  dims: number[];
  data: Float64Array;
}

export interface RunResult {
  outputs: Record<string, NamedTensor>;
  /** Only the reference runner: the same outputs in float64, which comparisons should use as expected values. */
  outputs64?: Record<string, NamedTensor64>;
  /** Empty for runners that do not run the ONNX graph (reference, tfjs). */
  placements: Placement[];
  /** Settings that actually applied to this run: threads, SIMD, TF32, provider options. */
  settings: Record<string, string | number | boolean>;
  /** Milliseconds this run spent creating an onnxruntime session; absent when it reused the one kept for the model. */
  sessionMs?: number;
}

/**
 * What a runner is given: the ONNX model bytes (graph runners) and, where known, the original parameters
 * (the reference and tfjs runners compute from those instead of the graph).
 */
export interface Job {
  model: Uint8Array;
  params?: SeedParams;
  feeds: Feeds;
  /** Output names the caller wants, in the graph's order. */
  outputNames: string[];
}

/**
 * A backend. Small on purpose: a name, a probe, and run. `open` may start something costly (a browser, a
 * session) that many runs share; `close` must release all of it, and is safe to call twice.
 */
export interface Runner {
  readonly name: BackendName;
  /** A reference that holds its own weights (an imported model's): it runs without the seed's `params`. */
  readonly ownWeights?: boolean;
  probe(): Promise<Probe>;
  run(job: Job, signal?: AbortSignal): Promise<RunResult>;
  close(): Promise<void>;
}
