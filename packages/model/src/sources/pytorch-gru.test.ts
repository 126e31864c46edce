import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../checkpoint.ts';
import { UserError } from '../errors.ts';
import { referenceForward } from '../reference.ts';
import { decodeSafetensors, encodeSafetensors } from '../safetensors.ts';
import { pytorchGruForward, pytorchGruFromSafetensors } from './pytorch-gru.ts';
import { detectSourceKind, loadSourceModel } from './source-model.ts';

const FIXTURES = fileURLToPath(new URL('../../../../fixtures/', import.meta.url));
const CLASSIFIERS = ['l1-uni-bf', 'l1-bi-tf', 'l2-uni-tf', 'l2-bi-bf', 'l3-bi-tf'];

/** The fixture's cases, x turned to [batch, seq, input] when PyTorch was fed [seq, batch, input]. */
function cases(path: string, batchFirst: boolean) {
  const t = decodeSafetensors(readFileSync(path), path).tensors;
  return [...t.keys()].filter((k) => k.startsWith('x_')).map((k) => {
    const x = t.get(k)!;
    const logits = t.get(k.replace('x_', 'logits_'))!;
    const [d0, d1, I] = x.shape as [number, number, number];
    const [batch, seq] = batchFirst ? [d0, d1] : [d1, d0];
    const bti = new Float32Array(x.data.length);
    for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) for (let i = 0; i < I; i++) {
      bti[(b * seq + s) * I + i] = x.data[(batchFirst ? b * seq + s : s * batch + b) * I + i]!;
    }
    return { name: k.slice(2), batch, seq, x: bti, logits: logits.data };
  });
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('PyTorch nn.GRU classifiers: float64 reference against PyTorch (fixtures/pytorch)', () => {
  it.each(CLASSIFIERS)('%s matches PyTorch logits within 1e-5 at seq 1, 10, 37', (name) => {
    const path = `${FIXTURES}pytorch/${name}.safetensors`;
    expect(detectSourceKind(path)).toBe('pytorch-gru');
    // These classifiers' forward() reads the final state (tools/fixtures/pytorch-imports.py).
    const m = loadSourceModel(path, undefined, { head: 'final-state' });
    if (m.kind !== 'pytorch-gru') throw new Error(`loaded as ${m.kind}`);
    expect(m.batchFirst).toBe(name.endsWith('-bf'));
    expect(m.numLayers).toBe(Number(name[1]));
    expect(m.bidirectional).toBe(name.includes('-bi-'));
    const all = cases(`${FIXTURES}pytorch/${name}.cases.safetensors`, m.batchFirst!);
    expect(all.map((c) => c.seq).sort()).toEqual([1, 1, 10, 10, 37, 37]);
    for (const c of all) expect(maxAbs(pytorchGruForward(m, c.x, c.batch, c.seq).logits, c.logits), c.name).toBeLessThanOrEqual(1e-5);
  });
});

describe('the seed MyModel made by PyTorch (fixtures/seed-pytorch)', () => {
  const path = `${FIXTURES}seed-pytorch/model.safetensors`;
  it('is a native checkpoint: loadCheckpoint reads it and referenceForward matches PyTorch within 1e-5', () => {
    expect(detectSourceKind(path)).toBe('seed');
    const { params } = loadCheckpoint(path);
    for (const c of cases(`${FIXTURES}seed-pytorch/model.cases.safetensors`, true)) {
      expect(maxAbs(referenceForward(params, c.x, c.batch, c.seq).logits, c.logits), c.name).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('pytorchGruFromSafetensors refuses what it cannot map, naming it', () => {
  const file = decodeSafetensors(readFileSync(`${FIXTURES}pytorch/l2-bi-bf.safetensors`));
  const without = (drop: string) => ({ ...file, tensors: new Map([...file.tensors].filter(([n]) => n !== drop)) });
  const withExtra = (name: string, shape: number[]) => ({ ...file, tensors: new Map([...file.tensors, [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]]) });
  const cases: [string, () => unknown, RegExp][] = [
    ['a missing reverse weight', () => pytorchGruFromSafetensors(without('gru.weight_hh_l1_reverse'), 'f'), /missing tensor 'gru.weight_hh_l1_reverse'/],
    ['an extra module', () => pytorchGruFromSafetensors(withExtra('fc2.weight', [3, 3]), 'f'), /more than one module after the GRU \(fc.weight, fc2.weight\)/],
    ['an extra bias', () => pytorchGruFromSafetensors(withExtra('norm.bias', [3]), 'f'), /unexpected tensor 'norm.bias'/],
    ['a head of the wrong width', () => pytorchGruFromSafetensors({ ...file, tensors: new Map([...file.tensors].map(([n, t]) => [n, n === 'fc.weight' ? { shape: [3, 7], data: t.data.subarray(0, 21) } : t])) }, 'f'), /'fc.weight': shape \[3, 7\] is not \[output, 14\]/],
    ['a metadata layer count that disagrees', () => pytorchGruFromSafetensors({ ...file, metadata: { ...file.metadata, num_layers: '3' } }, 'f'), /num_layers says 3 but the tensors hold 2 layers/],
  ];
  it.each(cases)('%s', (_, run, message) => {
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  it('accepts other module names and a GRU without biases', () => {
    const renamed = new Map([...file.tensors].filter(([n]) => !n.includes('bias_')).map(([n, t]) => [n.replace('gru.', 'rnn.').replace('fc.', 'head.'), t] as const));
    const bytes = encodeSafetensors(renamed);
    const m = pytorchGruFromSafetensors(decodeSafetensors(bytes), 'f', 'final-state');
    expect(m.prefixes).toEqual({ gru: 'rnn.', head: 'head.' });
    expect(m.layers[1]!.directions[1]!.bIh).toEqual(new Float32Array(21));
  });
});

describe('loadSourceModel on files that are not a supported source', () => {
  it('reads a safetensors file whose header length (0x380) starts like a pickle (\\x80\\x03)', () => {
    const path = fileURLToPath(new URL('../../../../fixtures/pytorch-export/weights.safetensors', import.meta.url));
    expect([...readFileSync(path).subarray(0, 2)]).toEqual([0x80, 0x03]);
    expect(loadSourceModel(path).kind).toBe('seed');
  });

  it('names a torch.save file and says how to convert it, with or without --source', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pt-'));
    try {
      const pt = join(dir, 'model.pt');
      writeFileSync(pt, Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0));
      expect(() => loadSourceModel(pt)).toThrow(/model\.pt: a torch\.save \(pickle\) file.*python\/gru_onnx_torch\.py.*save_state_dict/);
      expect(() => loadSourceModel(pt, 'pytorch-gru')).toThrow(/a torch\.save \(pickle\) file/);
      // A protocol-2 pickle (\x80\x02, then EMPTY_DICT and opcodes) is named too.
      writeFileSync(pt, Uint8Array.of(0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05, 0x00, 0x00, 0x00));
      expect(() => loadSourceModel(pt)).toThrow(/a torch\.save \(pickle\) file/);
      const missing = join(dir, 'nope.safetensors');
      expect(() => loadSourceModel(missing)).toThrow(UserError);
      expect(() => loadSourceModel(missing)).toThrow(/nope\.safetensors: cannot read model \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
