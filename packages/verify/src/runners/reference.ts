import { referenceForward, sourceForward, sourceSizes, sourceStateSizes, UserError, type SourceModel } from '@gru-onnx/model';
import type { Feeds, Job, NamedTensor, NamedTensor64, Probe, RunResult, Runner } from '../runner.ts';
import { checkFeeds } from './common.ts';
import { float32Data } from '../tensor.ts';
import { seedInputs, seedOutputFor } from './seed-io.ts';

/**
 * The float64 TypeScript model (referenceForward) on the job's parameters: the numeric source of truth. Its
 * float32 outputs are rounded copies; compare against `outputs64`. Runs in-process and synchronously, so a
 * timeout cannot interrupt it (it has no native code or I/O to hang on).
 */
export function createReferenceRunner(): Runner {
  return {
    name: 'reference',
    async probe(): Promise<Probe> {
      return { available: true, versions: {}, settings: { precision: 'float64' } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      signal?.throwIfAborted();
      checkFeeds(job.feeds);
      const s = seedInputs('reference', job);
      const out = referenceForward(s.params, s.x, s.batch, s.seq, s.h0);
      const outputs: Record<string, NamedTensor> = {};
      const outputs64: Record<string, NamedTensor64> = {};
      for (const name of job.outputNames) {
        const which = seedOutputFor(name);
        outputs64[name] = { dims: s.dims[which], data: out[which] };
        outputs[name] = { dims: s.dims[which], data: Float32Array.from(out[which]) };
      }
      return { outputs, outputs64, placements: [], settings: { precision: 'float64' } };
    },
    async close(): Promise<void> {
      // Holds nothing.
    },
  };
}

/** Which of an imported model's outputs a graph output holds, by its name (the names gru-onnx exports write). */
export type SourceOutputName = 'logits' | 'hiddenStates' | 'hN' | 'cN';

export function sourceOutputFor(name: string, kind: string): SourceOutputName {
  switch (name) {
    case 'logits':
    case 'probabilities':
      return 'logits';
    case 'hidden_states':
      return 'hiddenStates';
    case 'h_n':
      return 'hN';
    case 'c_n':
      return 'cN';
  }
  throw new UserError(`output '${name}' is not one a ${kind} model computes (logits or probabilities, hidden_states, h_n, c_n)`);
}

/**
 * An imported model's float64 outputs for one input set: x [batch, seq, input] and, where the graph takes them,
 * h0 [S, batch, H] and c0 [S_lstm, batch, H] (by those names, as gru-onnx exports them; x is the other input).
 * `outputNames` are the graph's: one output is the logits whatever its name (a third party's file), several are
 * matched by name (sourceOutputFor).
 */
export function sourceOutputs(source: SourceModel, feeds: Feeds, outputNames: readonly string[], what: string): Record<string, NamedTensor64> {
  const entries = Object.entries(feeds);
  const h0 = feeds.h0;
  const c0 = feeds.c0;
  const xs = entries.filter(([n]) => n !== 'h0' && n !== 'c0');
  const sizes = sourceStateSizes(source);
  if (xs.length !== 1 || xs[0]![1].dims.length !== 3) throw new UserError(`${what}: the ${source.kind} reference takes x [batch, seq, input] and optionally h0, c0; got ${entries.map(([n, t]) => `${n} [${t.dims.join(', ')}]`).join(', ')}`);
  const [xName, x] = xs[0]!;
  const [batch, seq, I] = x.dims as [number, number, number];
  const { inputSize, outputSize } = sourceSizes(source);
  if (I !== inputSize) throw new UserError(`${what}: input '${xName}' has ${I} features, the model takes ${inputSize}`);
  const H = sizes.hiddenSize ?? 0;
  const stateDims = (slots: number) => (source.kind === 'seed' ? [batch, H] : [slots, batch, H]);
  for (const [name, t, slots] of [['h0', h0, sizes.slots], ['c0', c0, sizes.lstmSlots]] as const) {
    if (!t) continue;
    const want = stateDims(slots);
    if (slots === 0 || sizes.hiddenSize === undefined || t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
      throw new UserError(`${what}: input ${name} is [${t.dims.join(', ')}], the ${source.kind} model takes ${slots === 0 || sizes.hiddenSize === undefined ? 'none' : `[${want.join(', ')}]`}`);
    }
  }
  const out = sourceForward(source, float32Data(x, `${what}: input '${xName}'`), batch, seq, {
    ...(h0 ? { h0: float32Data(h0, `${what}: input h0`) } : {}),
    ...(c0 ? { c0: float32Data(c0, `${what}: input c0`) } : {}),
  });
  const dims: Record<SourceOutputName, number[]> = { logits: [batch, outputSize], hiddenStates: [batch, seq, sizes.lastFeatures], hN: stateDims(sizes.slots), cN: stateDims(sizes.lstmSlots) };
  const result: Record<string, NamedTensor64> = {};
  for (const name of outputNames) {
    const which = outputNames.length === 1 ? 'logits' : sourceOutputFor(name, source.kind);
    const data = out[which];
    if (!data) throw new UserError(`${what}: output '${name}': a ${source.kind} model without LSTM layers has no c_n`);
    // A reference that does not compute an output (tfjs's states, until it does) is said, not compared as empty.
    if (data.length !== dims[which].reduce((a, d) => a * d, 1)) throw new UserError(`${what}: output '${name}': the ${source.kind} reference does not compute it`);
    result[name] = { dims: dims[which], data };
  }
  return result;
}

/**
 * The float64 forward of an imported model (PyTorch nn.GRU/LSTM/RNN, tfjs-layers: sourceForward), as the
 * `reference` backend: x [batch, seq, input] (and h0, c0 where the graph takes them) → every output the graph
 * has (sourceOutputs). Like the seed's, it is a check of the harness (it computes the expected values
 * themselves); what it cannot check is whether the source's forward is the right one.
 */
export function createSourceReferenceRunner(source: SourceModel): Runner {
  return {
    name: 'reference',
    ownWeights: true,
    async probe(): Promise<Probe> {
      return { available: true, versions: {}, settings: { precision: 'float64', source: source.kind } };
    },
    async run(job: Job, signal?: AbortSignal): Promise<RunResult> {
      signal?.throwIfAborted();
      checkFeeds(job.feeds);
      const outputs64 = sourceOutputs(source, job.feeds, job.outputNames, `the ${source.kind} reference`);
      const outputs: Record<string, NamedTensor> = {};
      for (const [name, t] of Object.entries(outputs64)) outputs[name] = { dims: t.dims, data: Float32Array.from(t.data) };
      return { outputs, outputs64, placements: [], settings: { precision: 'float64' } };
    },
    async close(): Promise<void> {
      // Holds nothing.
    },
  };
}
