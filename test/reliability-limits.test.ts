/**
 * Limits before allocation (issue 7, item 2): a file declaring a hidden size of 10⁹ — in a safetensors header, an
 * ONNX initializer's dims and GRU attribute, an ONNX input's dims, a tfjs model.json's `units`, a bundle tensor's
 * dims — is refused with exit 2 and one `error:` line in milliseconds, without the memory it declares.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint, initParams, LIMITS, Rng } from '@gru-onnx/model';
import { allGraphs, allNodes, exportSeedModel, onnx } from '@gru-onnx/onnx';
import { main, type Io } from '@gru-onnx/cli';

const dir = mkdtempSync(join(tmpdir(), 'gru-onnx-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = { inputSize: 3, hiddenSize: 4, outputSize: 2 };
const params = initParams(CONFIG, new Rng(7));
const ckpt = join(dir, 'ckpt.safetensors');
writeFileSync(ckpt, encodeCheckpoint({ config: CONFIG, params, metadata: {} }));
const HUGE = 1e9;

/** Runs the CLI in-process; returns exit code, stderr, wall time and how much the RSS grew. */
async function cli(argv: string[]): Promise<{ code: number; stderr: string; ms: number; rssGrowthMb: number }> {
  let stderr = '';
  const io: Io = { out: () => undefined, err: (s) => void (stderr += s), stderrIsTTY: false, stderrStream: process.stderr };
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const code = await main(argv, { io });
  return { code, stderr, ms: performance.now() - t0, rssGrowthMb: (process.memoryUsage().rss - rss0) / 2 ** 20 };
}

function expectFastRefusal(r: Awaited<ReturnType<typeof cli>>, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(/internal/);
  expect(r.stderr).toMatch(message);
  // Generous bounds: the point is milliseconds and megabytes, not the 4 GB a 10⁹-unit tensor would take.
  expect(r.ms).toBeLessThan(500);
  expect(r.rssGrowthMb).toBeLessThan(200);
}

/** A safetensors file whose header is written by hand: the shapes may say anything. */
function safetensors(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('limits before allocation: hidden size 10⁹', () => {
  it('in a safetensors header (shape and data_offsets agree, the data is not there)', async () => {
    const file = join(dir, 'huge.safetensors');
    const n = HUGE * CONFIG.inputSize;
    writeFileSync(file, safetensors({ 'gru.W_xz.weight': { dtype: 'F32', shape: [HUGE, CONFIG.inputSize], data_offsets: [0, 4 * n] } }, 16));
    expectFastRefusal(await cli(['export', '--weights', file, '--out', join(dir, 'o.onnx')]), /more than 536870912 elements/);
  });

  it('in an nn.GRU state_dict', async () => {
    const file = join(dir, 'huge-gru.safetensors');
    writeFileSync(file, safetensors({ 'gru.weight_ih_l0': { dtype: 'F32', shape: [3 * HUGE, 3], data_offsets: [0, 36 * HUGE] } }, 0));
    expectFastRefusal(await cli(['export', '--weights', file, '--out', join(dir, 'o.onnx'), '--source', 'pytorch-gru']), /elements/);
  });

  it("in an ONNX initializer's dims and the GRU node's hidden_size", async () => {
    const m = onnx.ModelProto.decode(exportSeedModel(params, { form: 'fused' }));
    // The GRU node and its weights sit in the If branch that non-empty x takes.
    for (const t of allGraphs(m.graph!).flatMap((g) => g.initializer ?? [])) if (t.name === 'gru_W') t.dims = [1, 3 * HUGE, CONFIG.inputSize];
    for (const n of allNodes(m.graph!)) for (const a of n.attribute ?? []) if (a.name === 'hidden_size') a.i = HUGE;
    const file = join(dir, 'huge-init.onnx');
    writeFileSync(file, onnx.ModelProto.encode(m).finish());
    expectFastRefusal(await cli(['verify', '--model', file, '--weights', ckpt, '--backends', 'ort-cpu']), /invalid ONNX model: .*gru_W/);
    const inspect = await cli(['inspect', file]);
    expect([0, 2]).toContain(inspect.code);
    expect(inspect.ms).toBeLessThan(500);
  });

  it("in an ONNX graph input's declared size", async () => {
    const m = onnx.ModelProto.decode(exportSeedModel(params, { form: 'fused' }));
    const x = (m.graph!.input ?? []).find((v) => v.name === 'x')!;
    x.type!.tensorType!.shape!.dim![2]!.dimValue = HUGE;
    const file = join(dir, 'huge-x.onnx');
    writeFileSync(file, onnx.ModelProto.encode(m).finish());
    expectFastRefusal(await cli(['verify', '--model', file, '--weights', ckpt, '--backends', 'reference']), /input size 1000000000, but the weights have 3/);
  });

  it("in a tfjs model.json's units", async () => {
    const d = join(dir, 'tfjs');
    mkdirSync(d);
    const seed = new URL('../tools/fuzz/seeds/tfjs-gru/', import.meta.url);
    const json = JSON.parse(readFileSync(new URL('model.json', seed), 'utf8')) as { modelTopology: { config: { layers: { config: { units?: number } }[] } } };
    json.modelTopology.config.layers[0]!.config.units = HUGE;
    writeFileSync(join(d, 'model.json'), JSON.stringify(json));
    writeFileSync(join(d, 'weights.bin'), readFileSync(new URL('weights.bin', seed)));
    expectFastRefusal(await cli(['export', '--weights', d, '--out', join(dir, 'o.onnx')]), /expected \[3, 3000000000\]/);
  });

  it("in a bundle tensor's dims", async () => {
    const b = join(dir, 'bundle');
    const model = join(dir, 'm.onnx');
    writeFileSync(model, exportSeedModel(params, { form: 'fused' }));
    expect((await cli(['verify', '--model', model, '--weights', ckpt, '--backends', 'reference', '--shapes', '1x2', '--save-bundle', b])).code).toBe(0);
    const input = join(b, 'test_data_set_0', 'input_0.pb');
    const t = onnx.TensorProto.decode(readFileSync(input));
    t.dims = [1, 2, HUGE];
    writeFileSync(input, onnx.TensorProto.encode(t).finish());
    expectFastRefusal(await cli(['verify', '--bundle', b, '--backends', 'ort-cpu']), /elements, over the 268435456 limit/);
  });

  it('the limits are documented in one table and sit below what Node can allocate', () => {
    for (const [name, v] of Object.entries(LIMITS)) {
      expect(Number.isSafeInteger(v), name).toBe(true);
      expect(v, name).toBeGreaterThan(0);
    }
    expect(LIMITS.safetensorsTensorElements * 4).toBeLessThanOrEqual(LIMITS.safetensorsFileBytes);
    expect(LIMITS.bundleTensorElements * 4).toBeLessThanOrEqual(LIMITS.bundleFileBytes);
  });
});
