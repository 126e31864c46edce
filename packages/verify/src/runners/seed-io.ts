import { UserError, configFromParams } from '@gru-onnx/model';
import type { SeedParams } from '@gru-onnx/model';
import type { Job } from '../runner.ts';
import { float32Data } from '../tensor.ts';

/**
 * How the runners that compute from parameters (reference, tfjs) read a job meant for the ONNX graph: the one
 * 3-D feed is x [batch, seq, input] (batch-first), an optional 2-D feed is h0 [batch, hidden]; each requested
 * output is recognised by its name.
 */
export type SeedOutput = 'logits' | 'hiddenStates' | 'hN';

/** logits → logits; hidden_states / y → every hidden state; h_n / hn / h_T / final_state → the last state. */
export function seedOutputFor(name: string): SeedOutput {
  const n = name.toLowerCase();
  if (n.includes('logit')) return 'logits';
  if (/^(hidden_states|hiddenstates|hidden|y|states)$/.test(n)) return 'hiddenStates';
  if (/^(h_n|hn|h_t|h_last|final_state|h_out|h_n_out)$/.test(n)) return 'hN';
  throw new UserError(`output '${name}' is not one the seed model computes (expected logits, hidden_states or h_n)`);
}

export interface SeedInputs {
  params: SeedParams;
  x: Float32Array;
  batch: number;
  seq: number;
  h0?: Float32Array;
  dims: Record<SeedOutput, number[]>;
}

export function seedInputs(runner: string, job: Job): SeedInputs {
  if (!job.params) throw new UserError(`${runner} needs the model's parameters (--weights), not only the ONNX file`);
  const { inputSize: I, hiddenSize: H, outputSize: O } = configFromParams(job.params);
  const feeds = Object.entries(job.feeds);
  const xs = feeds.filter(([, t]) => t.dims.length === 3);
  const h0s = feeds.filter(([, t]) => t.dims.length === 2);
  if (xs.length !== 1 || h0s.length > 1 || xs.length + h0s.length !== feeds.length) {
    throw new UserError(`${runner}: expected one input x [batch, seq, ${I}] and at most one h0 [batch, ${H}], got ${feeds.map(([n, t]) => `${n} [${t.dims.join(', ')}]`).join(', ')}`);
  }
  const [xName, x] = xs[0]!;
  const [batch, seq, inp] = x.dims as [number, number, number];
  if (inp !== I) throw new UserError(`${runner}: input '${xName}' has ${inp} features, the model takes ${I}`);
  const h0 = h0s[0]?.[1];
  if (h0 && (h0.dims[0] !== batch || h0.dims[1] !== H)) {
    throw new UserError(`${runner}: h0 is [${h0.dims.join(', ')}], expected [${batch}, ${H}]`);
  }
  return {
    params: job.params,
    x: float32Data(x, `${runner}: input '${xName}'`),
    batch,
    seq,
    ...(h0 ? { h0: float32Data(h0, `${runner}: input h0`) } : {}),
    dims: { logits: [batch, O], hiddenStates: [batch, seq, H], hN: [batch, H] },
  };
}
