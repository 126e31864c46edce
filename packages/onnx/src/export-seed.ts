/**
 * Exports the seed's GRU classifier (docs/architecture.md, "Numerics and conventions of each source") as an ONNX model, in one of three forms:
 *
 * - `fused`: one ONNX `GRU` node. The seed's z is ONNX's 1 − z and σ(−a) = 1 − σ(a), so the z rows of W, R and
 *   Wb are negated; linear_before_reset = 0 is the seed's h̃ = tanh(W_xh x + b_xh + W_hh (r ⊙ h)). The node sits
 *   behind an empty-x guard (an If on Size(x) = 0): onnxruntime 1.29's GRU kernel aborts the process on seq 0
 *   and on batch 0.
 * - `scan`: the same recurrence from primitive ops, for runtimes without a GRU kernel. The input projections of
 *   every step are hoisted out of the loop (x W_xgᵀ + b_xg for all steps, one Gemm per gate), and the body is
 *       z = σ(xz_t + h W_hzᵀ),  r = σ(xr_t + h W_hrᵀ),  h̃ = tanh(xh_t + (r ⊙ h) W_hhᵀ),  h' = h + z ⊙ (h̃ − h)
 *   which onnxruntime runs as 3 fused Gemm+activation kernels and 4 elementwise ones per step.
 *   Opsets 9+ use `Scan`; 7–8 use `Loop` (Scan-8's batch axis semantics would run the body once per row).
 * - `auto` (the default): one `If` runs the fused node when 1 ≤ batch < 64 and seq ≥ 1, where its kernel is
 *   fastest, and otherwise the recurrence from primitive ops, where onnxruntime's GRU kernel is up to 2.4× slower.
 *   The condition looks x's clamped shape up in a constant bool table, three kernels (writeAutoCondition). For
 *   target cpu that branch is a Loop that gathers and projects x step by step (writeStepCell): about 20% faster at
 *   batch 1024 than hoisting (the hoisted [seq, batch, hidden] tensors fall out of cache, and x's Transpose is
 *   slow), and exact on an empty x with no guard of its own. For the other targets it is the hoisted scan behind the
 *   empty-x guard, and x is transposed once before the If for both branches; for cuda auto is the scan form.
 *
 * Every form is exact for every batch size and sequence length, including 0 (h_T = h0, zeros when not given;
 * hidden_states [batch, 0, hidden]; batch 0 gives empty outputs).
 */
import { UserError, writeFileAtomic } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import { configFromParams } from '@gru-onnx/model';
import { assertGruOpset, attr, encodeModel, makeModel, makeValueInfo } from './builder.ts';
import { assertValidModel } from './checker.ts';
import { mainGraph, Scope } from './scope.ts';
import { writeRecurrence } from './seed-graph.ts';
import type { ExportTuning, Sizes, Want } from './seed-graph.ts';
import type { onnx } from './proto.ts';

export type ExportForm = 'fused' | 'scan' | 'auto';
export const EXPORT_FORMS: readonly ExportForm[] = ['fused', 'scan', 'auto'];
/** The runtime a model is exported for; `auto` takes it into account. */
export type ExportTarget = 'cpu' | 'wasm' | 'webgpu' | 'cuda';
export const EXPORT_TARGETS: readonly ExportTarget[] = ['cpu', 'wasm', 'webgpu', 'cuda'];

export interface ExportOptions {
  /** Default 'auto'. */
  form?: ExportForm;
  /**
   * Default 'cpu'. For `auto`: 'cuda' gets the scan form, because onnxruntime 1.29's CUDA EP has no GRU kernel
   * for linear_before_reset = 0 and runs the fused node on the CPU EP (measured on an H100, docs/cuda/); every
   * other target gets the batch-switched form.
   */
  target?: ExportTarget;
  /** Default-domain opset, 7 to 21; default {@link DEFAULT_OPSET}. */
  opset?: number;
  /** Add output `hidden_states` [batch, seq, hidden]: every step's h. */
  hiddenStates?: boolean;
  /** Add output `h_n` [batch, hidden]: the last h. */
  hN?: boolean;
  /** Add input `h0` [batch, hidden]; without it h_0 = 0 as in the seed. */
  h0?: boolean;
  /** Written to metadata_props, e.g. the model config and the checkpoint's SHA-256. */
  metadata?: Readonly<Record<string, string>>;
  /**
   * For `auto`: batches below this run the fused node, the rest (and an empty x) the scan. Default 64, where the
   * step-projected scan overtook the fused node on onnxruntime-node CPU, one thread, seed sizes, seq 10
   * (tools/bench/infer.md). An integer 0 to {@link MAX_AUTO_BATCH_THRESHOLD}.
   */
  autoBatchThreshold?: number;
}

/** 17: supported by every onnxruntime this project targets, and inside the GRU-stable range 7–21. */
export const DEFAULT_OPSET = 17;
export const DEFAULT_AUTO_BATCH_THRESHOLD = 64;
/** auto's condition is a table with a row per batch up to the threshold; far below this the fused node has lost. */
export const MAX_AUTO_BATCH_THRESHOLD = 4096;

function checkParams(p: SeedParams): Sizes {
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(p);
  const expect: Record<keyof SeedParams, number[]> = {
    'gru.W_xz.weight': [H, I], 'gru.W_xz.bias': [H], 'gru.W_hz.weight': [H, H],
    'gru.W_xr.weight': [H, I], 'gru.W_xr.bias': [H], 'gru.W_hr.weight': [H, H],
    'gru.W_xh.weight': [H, I], 'gru.W_xh.bias': [H], 'gru.W_hh.weight': [H, H],
    'fc.weight': [O, H], 'fc.bias': [O],
  };
  for (const [name, shape] of Object.entries(expect) as [keyof SeedParams, number[]][]) {
    const t = p[name];
    if (!t) throw new UserError(`parameter ${name} is missing`);
    if (t.shape.join(',') !== shape.join(',') || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new UserError(`parameter ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  return { I, H, O };
}

const MODEL_DOC = [
  "The seed article's GRU classifier (MyModel), exported by gru-onnx.",
  'z = σ(W_xz x + b_xz + W_hz h), r = σ(W_xr x + b_xr + W_hr h), h̃ = tanh(W_xh x + b_xh + W_hh (r ⊙ h)),',
  "h' = (1 − z) ⊙ h + z ⊙ h̃, logits = fc(h_T); h_0 = 0 unless input h0 is given. Exact for every sequence length.",
].join('\n');

/** The seed model as ONNX bytes; the structural checker runs on the result before it is returned. */
export function exportSeedModel(p: SeedParams, options: ExportOptions = {}): Uint8Array {
  return encodeModel(buildSeedModel(p, options));
}

/** As {@link exportSeedModel}, returning the message rather than its bytes. */
export function buildSeedModel(p: SeedParams, options: ExportOptions = {}): onnx.ModelProto {
  return buildTunedSeedModel(p, options, {});
}

/** For tools/bench only, and not exported by the package: {@link buildTunedSeedModel}'s bytes. */
export function exportTunedSeedModel(p: SeedParams, options: ExportOptions, tuning: ExportTuning): Uint8Array {
  return encodeModel(buildTunedSeedModel(p, options, tuning));
}

/**
 * For tools/bench only, and not exported by the package: the seed model with measurement knobs (ExportTuning),
 * some of which write graphs that abort onnxruntime.
 */
export function buildTunedSeedModel(p: SeedParams, options: ExportOptions, tuning: ExportTuning): onnx.ModelProto {
  const form = options.form ?? 'auto';
  if (!EXPORT_FORMS.includes(form)) throw new UserError(`form '${String(form)}' is not one of ${EXPORT_FORMS.join(', ')}`);
  const opset = options.opset ?? DEFAULT_OPSET;
  assertGruOpset(opset, "the seed's");
  const target = options.target ?? 'cpu';
  if (!EXPORT_TARGETS.includes(target)) throw new UserError(`target '${String(target)}' is not one of ${EXPORT_TARGETS.join(', ')}`);
  // What is built: auto for CUDA is the scan form, and the file says so.
  const built: ExportForm = form === 'auto' && target === 'cuda' ? 'scan' : form;
  const threshold = options.autoBatchThreshold ?? DEFAULT_AUTO_BATCH_THRESHOLD;
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > MAX_AUTO_BATCH_THRESHOLD) {
    throw new UserError(`autoBatchThreshold ${threshold} is not an integer 0–${MAX_AUTO_BATCH_THRESHOLD}`);
  }
  const z = checkParams(p);
  const want: Want = { hiddenStates: !!options.hiddenStates, hN: !!options.hN, h0: !!options.h0 };
  const s = new Scope('');
  const rec = writeRecurrence(s, p, z, want, { hT: 'h_n', hs: 'hidden_states' }, { built, target, opset, threshold, tuning });

  s.node('Gemm', [rec.hT, s.float('fc_weight', [z.O, z.H], p['fc.weight'].data), s.float('fc_bias', [z.O], p['fc.bias'].data)], ['logits'], {
    transB: attr.int(1),
  });

  const inputs = [makeValueInfo('x', 'float32', ['batch', 'seq', z.I], 'Input sequence [batch, seq, input].')];
  if (want.h0) inputs.push(makeValueInfo('h0', 'float32', ['batch', z.H], 'Initial hidden state [batch, hidden]; zeros in the seed.'));
  const outputs = [makeValueInfo('logits', 'float32', ['batch', z.O], 'fc(h_T) [batch, output].')];
  if (want.hiddenStates) outputs.push(makeValueInfo('hidden_states', 'float32', ['batch', 'seq', z.H], 'Every step h_1..h_T [batch, seq, hidden].'));
  if (want.hN) outputs.push(makeValueInfo('h_n', 'float32', ['batch', z.H], 'The last hidden state h_T [batch, hidden].'));
  const graph = mainGraph(s, opset, { name: `seed_gru_${built}`, inputs, outputs, docString: `Seed GRU classifier, ${built} form.` });
  const model = makeModel(graph, {
    opset,
    docString: MODEL_DOC,
    metadata: { ...options.metadata, 'gru_onnx.form': built, 'gru_onnx.target': target },
  });
  assertValidModel(model);
  return model;
}

/** Writes model bytes so the file appears complete or not at all. */
export function saveModel(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes);
}
