import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../checkpoint.ts';
import { UserError } from '../errors.ts';
import { referenceForward } from '../reference.ts';
import { decodeSafetensors, encodeSafetensors } from '../safetensors.ts';
import { PYTORCH_HEADS, pytorchForward, pytorchForwardLine, pytorchRecurrentForward, pytorchRecurrentFromSafetensors, type PytorchHead } from './pytorch-recurrent.ts';
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
    for (const c of all) expect(maxAbs(pytorchRecurrentForward(m, c.x, c.batch, c.seq).logits, c.logits), c.name).toBeLessThanOrEqual(1e-5);
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

describe('pytorchRecurrentFromSafetensors refuses what it cannot map, naming it', () => {
  const file = decodeSafetensors(readFileSync(`${FIXTURES}pytorch/l2-bi-bf.safetensors`));
  const without = (drop: string) => ({ ...file, tensors: new Map([...file.tensors].filter(([n]) => n !== drop)) });
  const withExtra = (name: string, shape: number[]) => ({ ...file, tensors: new Map([...file.tensors, [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]]) });
  const cases: [string, () => unknown, RegExp][] = [
    ['a missing reverse weight', () => pytorchRecurrentFromSafetensors(without('gru.weight_hh_l1_reverse'), 'f'), /missing tensor 'gru.weight_hh_l1_reverse'/],
    ['an extra module', () => pytorchRecurrentFromSafetensors(withExtra('fc2.weight', [3, 3]), 'f'), /more than one module after the nn.GRU \(fc.weight, fc2.weight\)/],
    ['an extra bias', () => pytorchRecurrentFromSafetensors(withExtra('norm.bias', [3]), 'f'), /unexpected tensor 'norm.bias'/],
    ['a head of the wrong width', () => pytorchRecurrentFromSafetensors({ ...file, tensors: new Map([...file.tensors].map(([n, t]) => [n, n === 'fc.weight' ? { shape: [3, 7], data: t.data.subarray(0, 21) } : t])) }, 'f'), /'fc.weight': shape \[3, 7\] is not \[output, 14\]/],
    ['two recurrent modules', () => pytorchRecurrentFromSafetensors(withExtra('rnn2.weight_ih_l0', [21, 7]), 'f'), /^f: found 2 recurrent modules \(gru\.weight_ih_l0, rnn2\.weight_ih_l0\); only one nn\.GRU, nn\.LSTM or nn\.RNN followed by one nn\.Linear is supported$/],
    ['a metadata layer count that disagrees', () => pytorchRecurrentFromSafetensors({ ...file, metadata: { ...file.metadata, num_layers: '3' } }, 'f'), /num_layers says 3 but the tensors hold 2 layers/],
  ];
  it.each(cases)('%s', (_, run, message) => {
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  it('accepts other module names and a GRU without biases', () => {
    const renamed = new Map([...file.tensors].filter(([n]) => !n.includes('bias_')).map(([n, t]) => [n.replace('gru.', 'rnn.').replace('fc.', 'head.'), t] as const));
    const bytes = encodeSafetensors(renamed);
    const m = pytorchRecurrentFromSafetensors(decodeSafetensors(bytes), 'f', { head: 'final-state' });
    expect(m.prefixes).toEqual({ rnn: 'rnn.', head: 'head.' });
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

describe('the head: declared where the heads differ, implemented exactly', () => {
  const bi = `${FIXTURES}pytorch/l2-bi-bf.safetensors`;
  const uni = `${FIXTURES}pytorch/l2-uni-tf.safetensors`;
  const load = (path: string, head?: PytorchHead) => {
    const m = loadSourceModel(path, undefined, head ? { head } : {});
    if (m.kind !== 'pytorch-gru') throw new Error(m.kind);
    return m;
  };

  it('a bidirectional model without --head is refused, with one line naming every choice', () => {
    expect(() => load(bi)).toThrow(UserError);
    expect(() => load(bi)).toThrow(/l2-bi-bf\.safetensors: a bidirectional nn\.GRU.*pass --head final-state \(fc\(cat\(h_n\[-2\], h_n\[-1\]\)\)\), last-step \(fc\(out\[:, -1\]\)\) or mean \(fc\(out\.mean\(dim=1\)\)\)$/);
  });

  it('a unidirectional one defaults to final-state, which is last-step there (the same numbers)', () => {
    const m = load(uni);
    expect([m.head, m.headDeclared]).toEqual(['final-state', false]);
    const x = Float32Array.from({ length: 2 * 9 * 5 }, (_, i) => Math.sin(i));
    expect(pytorchRecurrentForward({ ...m, head: 'last-step' }, x, 2, 9).logits).toEqual(pytorchRecurrentForward(m, x, 2, 9).logits);
    expect(maxAbs(pytorchRecurrentForward({ ...m, head: 'mean' }, x, 2, 9).logits, pytorchRecurrentForward(m, x, 2, 9).logits)).toBeGreaterThan(1e-3);
  });

  it('bidirectional, the three heads give three answers, and at seq 1 last-step = mean', () => {
    const x = Float32Array.from({ length: 2 * 6 * 5 }, (_, i) => Math.cos(i));
    const [f, l, m] = PYTORCH_HEADS.map((h) => pytorchRecurrentForward(load(bi, h), x, 2, 6).logits);
    expect(maxAbs(f!, l!)).toBeGreaterThan(1e-3);
    expect(maxAbs(l!, m!)).toBeGreaterThan(1e-3);
    const x1 = x.subarray(0, 2 * 5);
    expect(maxAbs(pytorchRecurrentForward(load(bi, 'last-step'), x1, 2, 1).logits, pytorchRecurrentForward(load(bi, 'mean'), x1, 2, 1).logits)).toBeLessThan(1e-12);
  });

  it.each(PYTORCH_HEADS)('%s at seq 0 reads the zero initial state: logits = fc(0) = the bias; batch 0 is empty', (head) => {
    const m = load(bi, head);
    const { logits } = pytorchRecurrentForward(m, new Float32Array(0), 2, 0);
    expect([...logits]).toEqual([...m.fc.bias, ...m.fc.bias]);
    expect(pytorchRecurrentForward(m, new Float32Array(0), 0, 3).logits).toHaveLength(0);
  });

  it('prints the forward each head stands for, in the module\'s own names and layout', () => {
    const m = load(bi, 'mean');
    expect(PYTORCH_HEADS.map((head) => pytorchForwardLine({ ...m, head }))).toEqual([
      'logits = fc(cat(h_n[-2], h_n[-1]))',
      'logits = fc(out[:, -1])',
      'logits = fc(out.mean(dim=1))',
    ]);
    const seqFirst = load(uni);
    expect(seqFirst.batchFirst).toBe(false);
    expect(PYTORCH_HEADS.map((head) => pytorchForwardLine({ ...seqFirst, head }))).toEqual(['logits = fc(h_n[-1])', 'logits = fc(out[-1])', 'logits = fc(out.mean(dim=0))']);
    expect(pytorchForward({ ...m, prefixes: { rnn: 'encoder.rnn.', head: 'classifier.' } })).toBe('out, h_n = encoder.rnn(x); logits = classifier(out.mean(dim=1))');
  });
});

describe('the wrong kind of file is named', () => {
  const H = 4;
  const I = 3;
  const cell = (rows: number) =>
    encodeSafetensors(new Map([
      ['rnn.weight_ih_l0', { shape: [rows * H, I], data: new Float32Array(rows * H * I) }],
      ['rnn.weight_hh_l0', { shape: [rows * H, H], data: new Float32Array(rows * H * H) }],
      ['fc.weight', { shape: [2, H], data: new Float32Array(2 * H) }],
    ]));
  it.each([
    [4, 'pytorch-lstm'],
    [1, 'pytorch-rnn'],
    [3, 'pytorch-gru'],
  ] as const)('a state_dict of %i·hidden rows is detected as %s', (rows, kind) => {
    const m = pytorchRecurrentFromSafetensors(decodeSafetensors(cell(rows)), 'f', { nonlinearity: rows === 1 ? 'tanh' : undefined });
    expect([m.kind, m.hiddenSize, m.inputSize]).toEqual([kind, H, I]);
  });

  it.each([
    [2, /^f: 'rnn\.weight_hh_l0' is \[8, 4\]: 2·hidden rows, a cell that is none of nn\.GRU \(3·hidden rows\), nn\.LSTM \(4\) or nn\.RNN \(1\)$/],
    [5, /5·hidden rows, a cell that is none of/],
  ])('a state_dict of %i·hidden rows is refused, saying what was found', (rows, message) => {
    expect(() => pytorchRecurrentFromSafetensors(decodeSafetensors(cell(rows)), 'f')).toThrow(message);
  });

  it('weights whose ih and hh rows disagree, or no weight_hh_l0: refused saying what was found', () => {
    const odd = encodeSafetensors(new Map([
      ['rnn.weight_ih_l0', { shape: [12, I], data: new Float32Array(12 * I) }],
      ['rnn.weight_hh_l0', { shape: [16, H], data: new Float32Array(16 * H) }],
    ]));
    expect(() => pytorchRecurrentFromSafetensors(decodeSafetensors(odd), 'f')).toThrow(/^f: 'rnn\.weight_ih_l0' is \[12, 3\] and 'rnn\.weight_hh_l0' \[16, 4\]: not an nn\.GRU, nn\.LSTM or nn\.RNN layer/);
    const alone = encodeSafetensors(new Map([['rnn.weight_ih_l0', { shape: [12, I], data: new Float32Array(12 * I) }]]));
    expect(() => pytorchRecurrentFromSafetensors(decodeSafetensors(alone), 'f')).toThrow(/^f: missing tensor 'rnn\.weight_hh_l0'$/);
  });

  it('an ONNX model passed as weights', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-as-weights-'));
    try {
      const path = join(dir, 'model.onnx');
      // ModelProto: ir_version 8 (field 1), then a graph: any real model opens with 0x08.
      writeFileSync(path, Uint8Array.of(0x08, 0x08, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68));
      expect(() => loadSourceModel(path)).toThrow(/model\.onnx: looks like an ONNX model, not weights; pass it as --model/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--head on a model whose file says what its head reads', () => {
    expect(() => loadSourceModel(`${FIXTURES}seed-pytorch/model.safetensors`, undefined, { head: 'mean' })).toThrow(/--head is for PyTorch nn\.GRU, nn\.LSTM and nn\.RNN state_dicts.*a seed model/);
  });
});

describe('nn.LSTM and nn.RNN state_dicts (fixtures/pytorch-rnns)', () => {
  const RNNS = `${FIXTURES}pytorch-rnns/`;

  it('detects the cell from the file: 4·hidden rows nn.LSTM, 1·hidden rows nn.RNN with its recorded nonlinearity', () => {
    expect(detectSourceKind(`${RNNS}lstm-bi2-sf.safetensors`)).toBe('pytorch-lstm');
    expect(detectSourceKind(`${RNNS}rnn-relu-bi2-bf.safetensors`)).toBe('pytorch-rnn');
    const relu = loadSourceModel(`${RNNS}rnn-relu-uni3-bf.safetensors`);
    expect(relu.kind === 'pytorch-rnn' && [relu.nonlinearity, relu.numLayers, relu.hiddenSize, relu.batchFirst]).toEqual(['relu', 3, 6, true]);
    const lstm = loadSourceModel(`${RNNS}lstm-bi2-sf.safetensors`, undefined, { head: 'last-step' });
    expect(lstm.kind === 'pytorch-lstm' && [lstm.numLayers, lstm.bidirectional, lstm.hiddenSize, lstm.batchFirst, lstm.layers[1]!.inputSize]).toEqual([2, true, 5, false, 10]);
    expect(pytorchForward(lstm as Parameters<typeof pytorchForward>[0])).toBe('out, (h_n, c_n) = rnn(x); logits = fc(out[-1])');
  });

  const refusals: [string, () => unknown, RegExp][] = [
    ['proj_size', () => loadSourceModel(`${RNNS}lstm-proj.safetensors`), /lstm-proj\.safetensors: 'rnn\.weight_hr_l0' is \[3, 6\]: an nn\.LSTM with proj_size=3, which is not supported/],
    ['proj_size, with --source', () => loadSourceModel(`${RNNS}lstm-proj.safetensors`, 'pytorch-lstm'), /an nn\.LSTM with proj_size=3/],
    ['an nn.RNN whose file does not say its nonlinearity', () => loadSourceModel(`${RNNS}rnn-no-nonlinearity.safetensors`), /rnn-no-nonlinearity\.safetensors: an nn\.RNN, whose state_dict does not say its nonlinearity .*pass --nonlinearity tanh\|relu/],
    ['--nonlinearity on an nn.LSTM', () => loadSourceModel(`${RNNS}lstm-uni1-bf.safetensors`, undefined, { nonlinearity: 'relu' }), /--nonlinearity is for nn\.RNN; this file holds an nn\.LSTM/],
    ['--nonlinearity on a seed checkpoint', () => loadSourceModel(`${FIXTURES}seed-pytorch/model.safetensors`, undefined, { nonlinearity: 'relu' }), /--nonlinearity is for PyTorch nn\.RNN state_dicts; .* is a seed model/],
    ['--nonlinearity against the file', () => loadSourceModel(`${RNNS}rnn-relu-uni3-bf.safetensors`, undefined, { nonlinearity: 'tanh' }), /--nonlinearity tanh, but __metadata__ nonlinearity says relu/],
    ['--source naming another cell', () => loadSourceModel(`${RNNS}lstm-uni1-bf.safetensors`, 'pytorch-gru'), /--source pytorch-gru, but the file holds an nn\.LSTM \('rnn\.weight_ih_l0' \[24, 4\]: 4·hidden rows\); pass --source pytorch-lstm/],
    ['a bidirectional LSTM without --head', () => loadSourceModel(`${RNNS}lstm-bi2-sf.safetensors`), /a bidirectional nn\.LSTM, whose heads give different answers.*pass --head final-state/],
  ];
  it.each(refusals)('refuses %s with one line naming it', (_, run, message) => {
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
    expect(() => run()).toThrow(/^[^\n]*$/);
  });

  it('a nonlinearity given where the file has none is taken, and a metadata cell that disagrees is refused', () => {
    const bare = loadSourceModel(`${RNNS}rnn-no-nonlinearity.safetensors`, undefined, { nonlinearity: 'relu' });
    expect(bare.kind === 'pytorch-rnn' && bare.nonlinearity).toBe('relu');
    const file = decodeSafetensors(readFileSync(`${RNNS}lstm-uni1-bf.safetensors`));
    expect(file.metadata.cell).toBe('lstm');
    expect(() => pytorchRecurrentFromSafetensors({ ...file, metadata: { ...file.metadata, cell: 'gru' } }, 'f')).toThrow(/__metadata__ cell says gru but the tensors hold an nn\.LSTM/);
  });

  it.each(['lstm-bi3-bf', 'rnn-relu-bi2-bf'])('%s at seq 0: h_n = h0, c_n = c0, out is empty; final-state reads h0\'s last layer, the others zeros', (name) => {
    const S = name.startsWith('lstm') ? 6 : 4;
    const lstm = name.startsWith('lstm');
    for (const head of PYTORCH_HEADS) {
      const m = loadSourceModel(`${RNNS}${name}.safetensors`, undefined, { head });
      if (m.kind === 'seed' || m.kind === 'tfjs-layers') throw new Error(m.kind);
      const H = m.hiddenSize;
      const batch = 2;
      const h0 = Float64Array.from({ length: S * batch * H }, (_, i) => Math.sin(i + 1));
      const c0 = Float64Array.from({ length: S * batch * H }, (_, i) => Math.cos(i));
      const out = pytorchRecurrentForward(m, new Float32Array(0), batch, 0, { h0, ...(lstm ? { c0 } : {}) });
      expect(out.hiddenStates).toHaveLength(0);
      expect([...out.hN]).toEqual([...h0]);
      expect(out.cN && [...out.cN]).toEqual(lstm ? [...c0] : undefined);
      // The last layer's slots, forward then reverse: cat(h_n[-2], h_n[-1]) per batch row.
      const features = (b: number) => head === 'final-state' ? [...h0.subarray(((S - 2) * batch + b) * H, ((S - 2) * batch + b + 1) * H), ...h0.subarray(((S - 1) * batch + b) * H, ((S - 1) * batch + b + 1) * H)] : new Array<number>(2 * H).fill(0);
      const fc = (v: number[]) => Array.from(m.fc.bias, (bias, o) => v.reduce((s, vi, i) => s + m.fc.weight[o * 2 * H + i]! * vi, bias));
      expect(maxAbs(out.logits, [...fc(features(0)), ...fc(features(1))])).toBeLessThan(1e-12);
      // Without h0: the zero state, so fc(0) = the bias under every head.
      expect([...pytorchRecurrentForward(m, new Float32Array(0), batch, 0).logits]).toEqual([...m.fc.bias, ...m.fc.bias]);
      const empty = pytorchRecurrentForward(m, new Float32Array(0), 0, 5, { h0: new Float32Array(0), ...(lstm ? { c0: new Float32Array(0) } : {}) });
      expect([empty.logits.length, empty.hiddenStates.length, empty.hN.length, empty.cN?.length]).toEqual([0, 0, 0, lstm ? 0 : undefined]);
    }
  });

  it('zero h0/c0 given is the same as none; a wrong-sized h0 or a c0 for a non-LSTM is a RangeError', () => {
    const m = loadSourceModel(`${RNNS}lstm-uni1-bf.safetensors`);
    if (m.kind !== 'pytorch-lstm') throw new Error(m.kind);
    const x = Float32Array.from({ length: 2 * 5 * 4 }, (_, i) => Math.sin(i));
    const zeros = new Float32Array(2 * 6);
    expect(pytorchRecurrentForward(m, x, 2, 5, { h0: zeros, c0: zeros })).toEqual(pytorchRecurrentForward(m, x, 2, 5));
    expect(() => pytorchRecurrentForward(m, x, 2, 5, { h0: new Float32Array(6) })).toThrow(/h0 has 6 values, expected 1×2×6/);
    const rnn = loadSourceModel(`${RNNS}rnn-tanh-uni2-bf.safetensors`);
    if (rnn.kind !== 'pytorch-rnn') throw new Error(rnn.kind);
    expect(() => pytorchRecurrentForward(rnn, x, 2, 5, { c0: new Float32Array(24) })).toThrow(/c0 is for an nn\.LSTM/);
  });
});
