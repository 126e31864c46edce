import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '@gru-onnx/model';
import { createRunner, readSignature, verifyModel, type BundleData, type Report } from '@gru-onnx/verify';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** One input with the source framework's own output for it. */
export interface SourceCase {
  name: string;
  batch: number;
  seq: number;
  /** [batch, seq, input] */
  x: Float32Array;
  /** [batch, output], as the source framework computed it. */
  expected: Float32Array;
  /** Needed where x or the output is empty (seq 0, batch 0). */
  inputSize?: number;
  outputSize?: number;
}

/**
 * A fixture's cases (`x_b{B}_t{T}`, `logits_b{B}_t{T}`), x turned to [batch, seq, input] when PyTorch was fed
 * [seq, batch, input] (batch_first = False).
 */
export function fixtureCases(path: string, batchFirst: boolean): SourceCase[] {
  const t = decodeSafetensors(readFileSync(path), path).tensors;
  return [...t.keys()].filter((k) => k.startsWith('x_')).map((k) => {
    const x = t.get(k)!;
    const [d0, d1, I] = x.shape as [number, number, number];
    const [batch, seq] = batchFirst ? [d0, d1] : [d1, d0];
    const bti = new Float32Array(x.data.length);
    for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) for (let i = 0; i < I; i++) {
      bti[(b * seq + s) * I + i] = x.data[(batchFirst ? b * seq + s : s * batch + b) * I + i]!;
    }
    return { name: k.slice(2), batch, seq, x: bti, expected: t.get(k.replace('x_', 'logits_'))!.data };
  });
}

/**
 * `verify` on ort-cpu and ort-wasm with the source framework's outputs as the expected values (a bundle), at
 * atol 1e-5, rtol 0: the issue's bar for every import.
 */
export function verifyOnOrt(model: Uint8Array, cases: SourceCase[]): Promise<Report> {
  // `logits`, or `probabilities` where the head ends in a softmax.
  const output = readSignature(model).outputs[0]!.name;
  const bundle: BundleData = {
    model,
    cases: cases.map((c) => ({
      name: c.name,
      inputs: { x: { dims: [c.batch, c.seq, c.inputSize ?? c.x.length / (c.batch * c.seq)], data: c.x } },
      outputs: { [output]: { dims: [c.batch, c.outputSize ?? c.expected.length / c.batch], data: c.expected } },
    })),
  };
  return verifyModel({
    bundle,
    runners: ['ort-cpu', 'ort-wasm'],
    createRunner: (name) => createRunner(name),
    override: { atol: 1e-5, rtol: 0 },
  });
}

/** The report's one-line verdict per backend, for assertion messages. */
export function summary(r: Report): string {
  return r.backends.map((b) => `${b.name}: ${b.status} maxAbs ${b.maxAbs}${b.reason ? ` (${b.reason})` : ''}`).join('; ');
}
