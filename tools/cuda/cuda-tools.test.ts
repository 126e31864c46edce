// The offline CUDA path's logic that runs without a GPU: fat-binary pruning, chunking, per-call packing, and the
// GPU-side receive / check / reassemble (tools/cuda/remote.sh) over small fake payloads.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { markdownTable, placementsFromProfile, quantile } from './bench-cuda.ts';
import { bundle, importedNames } from './bundle.ts';
import { FATBIN_MAGIC, elfSections, parseFatbins, pruneFatbinRange, pruneFatbins } from './fatbin.ts';

const HERE = resolve(import.meta.dirname);

/** One fat binary: header + entries (kind 2 = cubin) with `arch` at offset 28 and a payload of `size` bytes. */
function fatbin(entries: { arch: number; size: number; fill: number }[]): Buffer {
  const parts = entries.map((e) => {
    const h = Buffer.alloc(64);
    h.writeUInt16LE(2, 0);
    h.writeUInt16LE(0x101, 2);
    h.writeUInt32LE(64, 4);
    h.writeBigUInt64LE(BigInt(e.size), 8);
    h.writeUInt32LE(e.arch, 28);
    return Buffer.concat([h, Buffer.alloc(e.size, e.fill)]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(FATBIN_MAGIC, 0);
  head.writeUInt16LE(1, 4);
  head.writeUInt16LE(16, 6);
  head.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([head, body]);
}

/** A minimal ELF64 file whose only sections are .shstrtab and .nv_fatbin (holding `section`). */
function elfWith(section: Buffer): Buffer {
  const shstr = Buffer.from('\0.shstrtab\0.nv_fatbin\0', 'latin1');
  const dataOff = 64;
  const strOff = dataOff + section.length;
  const shoff = Math.ceil((strOff + shstr.length) / 8) * 8;
  const buf = Buffer.alloc(shoff + 3 * 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2;
  buf[5] = 1;
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(64, 0x3a);
  buf.writeUInt16LE(3, 0x3c);
  buf.writeUInt16LE(1, 0x3e);
  section.copy(buf, dataOff);
  shstr.copy(buf, strOff);
  const sh = (i: number, name: number, type: number, off: number, size: number): void => {
    const at = shoff + i * 64;
    buf.writeUInt32LE(name, at);
    buf.writeUInt32LE(type, at + 4);
    buf.writeBigUInt64LE(BigInt(off), at + 0x18);
    buf.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  sh(1, 1, 3, strOff, shstr.length);
  sh(2, 11, 1, dataOff, section.length);
  return buf;
}

describe('fatbin pruning', () => {
  const archs = [75, 80, 90, 120];
  const a = fatbin(archs.map((arch, i) => ({ arch, size: 40 + 8 * i, fill: arch })));
  const b = fatbin([{ arch: 120, size: 24, fill: 7 }]); // no sm_90: left alone
  const c = fatbin([{ arch: 90, size: 16, fill: 9 }]); // only sm_90: unchanged
  const section = Buffer.concat([a, Buffer.alloc(8), b, c]);

  it('reads the sections and the fat binaries', () => {
    const elf = elfWith(section);
    const s = elfSections(elf).find((x) => x.name === '.nv_fatbin')!;
    expect(s.size).toBe(section.length);
    const fbs = parseFatbins(elf, s.offset, s.offset + s.size);
    expect(fbs.map((f) => f.entries.map((e) => e.arch))).toEqual([archs, [120], [90]]);
  });

  it('keeps only sm_90 in place, updates the size, zeroes the rest', () => {
    const elf = elfWith(section);
    const s = elfSections(elf).find((x) => x.name === '.nv_fatbin')!;
    const before = parseFatbins(elf, s.offset, s.offset + s.size);
    const stats = pruneFatbins(elf, [90]);
    expect(stats).toMatchObject({ fatbins: 3, pruned: 1, untouched: 1, entriesBefore: 6, entriesAfter: 3 });
    const after = parseFatbins(elf, s.offset, s.offset + s.size);
    expect(after.map((f) => f.offset)).toEqual(before.map((f) => f.offset));
    expect(after[0]!.entries.map((e) => e.arch)).toEqual([90]);
    const kept = after[0]!.entries[0]!;
    expect(elf.subarray(kept.offset + 64, kept.offset + kept.length).every((x) => x === 90)).toBe(true);
    const tail = elf.subarray(kept.offset + kept.length, before[0]!.offset + 16 + before[0]!.fatSize);
    expect(tail.length).toBe(stats.bytesFreed);
    expect(tail.every((x) => x === 0)).toBe(true);
    expect(after[1]!.entries.map((e) => e.arch)).toEqual([120]);
    expect(after[2]!.entries.map((e) => e.arch)).toEqual([90]);
  });

  it("gives nvcc's own sm_90-only fat binary, byte for byte (testdata/README.md)", () => {
    const multi = readFileSync(join(HERE, 'testdata/k-sm80-90-120.fatbin'));
    const single = readFileSync(join(HERE, 'testdata/k-sm90.fatbin'));
    const stats = pruneFatbinRange(multi, 0, multi.length, [90]);
    expect(stats).toMatchObject({ fatbins: 1, pruned: 1, entriesBefore: 3, entriesAfter: 1 });
    expect(multi.subarray(0, single.length).equals(single)).toBe(true);
    expect(multi.subarray(single.length).every((x) => x === 0)).toBe(true);
  });

  it('refuses a file that is not ELF, and one without .nv_fatbin', () => {
    expect(() => pruneFatbins(Buffer.alloc(128), [90])).toThrow(/not an ELF/);
    const elf = elfWith(section);
    elf.write('.nv_fatbix', elf.indexOf('.nv_fatbin'), 'latin1');
    expect(() => pruneFatbins(elf, [90])).toThrow(/no .nv_fatbin/);
  });
});

describe('bench helpers', () => {
  it('quantiles interpolate', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.9)).toBe(5);
  });
  it('reads node placements from an onnxruntime profile', () => {
    const profile = JSON.stringify([
      { cat: 'Session', name: 'model_run' },
      { cat: 'Node', name: 'gru_kernel_time', args: { op_name: 'GRU', provider: 'CUDAExecutionProvider' } },
      { cat: 'Node', name: 'fc_kernel_time', args: { op_name: 'Gemm', provider: 'CUDAExecutionProvider' } },
    ]);
    expect(placementsFromProfile(profile)).toEqual([
      { node: 'gru', op: 'GRU', provider: 'CUDAExecutionProvider' },
      { node: 'fc', op: 'Gemm', provider: 'CUDAExecutionProvider' },
    ]);
  });
  it('formats a table', () => {
    const t = markdownTable([
      { model: 'fused', ep: 'cuda', threads: null, batch: 64, seq: 10, iterations: 5, latencyMsMedian: 0.5, latencyMsP10: 0.4, latencyMsP90: 0.6, latencyMsMean: 0.5, sequencesPerSecond: 128000, maxAbsDiffVsCpu: 1e-7 },
    ]);
    expect(t).toContain('| fused | cuda | - | 64 | 0.500 |');
  });
});

describe('bundle stubs', () => {
  it('finds the names a bundle imports statically from a package', () => {
    const code = 'import { chromium } from "playwright-core";\nimport { a as b, c } from "playwright-core";\nimport d from "x";\n';
    expect(importedNames(code, 'playwright-core')).toEqual({ names: ['a', 'c', 'chromium'], hasDefault: false });
    expect(importedNames(code, 'x')).toEqual({ names: [], hasDefault: true });
  });
});

describe('bundle assets', () => {
  // The CLI reads its version with createRequire(import.meta.url)('../package.json'); esbuild keeps the call, so the
  // file must land at the same place relative to the bundle, or the bundled CLI dies at start.
  it('copies what new URL(…, import.meta.url) and createRequire(import.meta.url)(…) reach, relative to the bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gru-bundle-test-'));
    try {
      mkdirSync(join(dir, 'pkg/src'), { recursive: true });
      writeFileSync(join(dir, 'pkg/meta.json'), '{"version":"9.9.9"}');
      writeFileSync(join(dir, 'pkg/src/worker.mjs'), 'export {};\n');
      writeFileSync(
        join(dir, 'pkg/src/entry.ts'),
        "import { createRequire } from 'node:module';\n" +
          "const v = (createRequire(import.meta.url)('../meta.json') as { version: string }).version;\n" +
          "console.log(v, new URL('./worker.mjs', import.meta.url).pathname.endsWith('worker.mjs'));\n",
      );
      const r = await bundle(join(dir, 'pkg/src/entry.ts'), join(dir, 'stage/app/entry.mjs'), join(dir, 'stage'));
      expect(r.assets.map((a) => a.to).sort()).toEqual(['app/worker.mjs', 'meta.json']);
      expect(execFileSync(process.execPath, [join(dir, 'stage/app/entry.mjs')], { encoding: 'utf8' }).trim()).toBe('9.9.9 true');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('chunks → calls → remote reassembly', () => {
  const work = mkdtempSync(join(tmpdir(), 'gru-cuda-test-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const sh = (script: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) =>
    spawnSync('bash', [join(HERE, script), ...args], {
      cwd: opts.cwd ?? work,
      env: { ...process.env, ...opts.env },
      encoding: 'utf8',
    });

  // Fake payloads: incompressible bytes, so the parts have predictable sizes.
  const blob = randomBytes(150_000);
  mkdirSync(join(work, 'src/core/gru-cuda/data'), { recursive: true });
  writeFileSync(join(work, 'src/core/gru-cuda/BUILD.json'), '{"fake":true}\n');
  writeFileSync(join(work, 'src/core/gru-cuda/data/blob.bin'), blob);
  mkdirSync(join(work, 'src/node/node/bin'), { recursive: true });
  writeFileSync(join(work, 'src/node/node/bin/node'), '#!/bin/sh\necho v20.0.0\n');
  chmodSync(join(work, 'src/node/node/bin/node'), 0o755);
  const chunks = join(work, 'chunks');
  const repo = join(work, 'repo');
  const env = { GRU_CUDA_STAGE: join(work, 'stage'), GRU_CUDA_NODE: 'shipped', OUT: join(work, 'out') };

  it('splits each archive into parts listed in SHA256SUMS', () => {
    for (const [name, top] of [['core', 'gru-cuda'], ['node', 'node']] as const) {
      const r = sh('chunk.sh', ['--name', name, '--from', join(work, 'src', name), '--top', top, '--chunks', chunks, '--chunk-bytes', '50000', '--xz-preset', '0']);
      expect(r.status, r.stderr).toBe(0);
    }
    const sums = readFileSync(join(chunks, 'SHA256SUMS'), 'utf8');
    expect(sums).toMatch(/ core\.tar\.xz$/m);
    expect(sums).toMatch(/ core\.tar\.xz\.part-03$/m);
    expect(sums).toMatch(/ node\.tar\.xz\.part-00$/m);
    expect(readdirSync(chunks).filter((f) => f.endsWith('.tar.xz'))).toEqual([]);
  });

  it('groups parts into calls under the per-call limit, core first', () => {
    const r = sh('pack-calls.sh', ['--chunks', chunks, '--send', join(work, 'send'), '--call-bytes', '110000']);
    expect(r.status, r.stderr).toBe(0);
    const calls = readdirSync(join(work, 'send')).sort();
    expect(calls).toEqual(['1', '2']);
    expect(readdirSync(join(work, 'send/1')).sort()).toEqual(['SHA256SUMS', 'core.tar.xz.part-00', 'core.tar.xz.part-01']);
    expect(readdirSync(join(work, 'send/2'))).toContain('node.tar.xz.part-00');
    expect(r.stdout).toContain('carry=["');
  });

  it('receives call by call, says what is missing, then reassembles exactly', () => {
    mkdirSync(join(repo, 'tools/cuda/out/send'), { recursive: true });
    cpSync(join(work, 'send/1'), join(repo, 'tools/cuda/out/send/1'), { recursive: true });
    let r = sh('remote.sh', ['recv'], { cwd: repo, env });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('received core.tar.xz.part-01');
    expect(r.stdout).toMatch(/NEXT: carry .*core\.tar\.xz\.part-02.*node\.tar\.xz\.part-00/);
    expect(existsSync(join(repo, 'tools/cuda/out/send/1/core.tar.xz.part-00'))).toBe(false);
    r = sh('remote.sh', ['assemble'], { cwd: repo, env });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('not every chunk is staged');

    cpSync(join(work, 'send/2'), join(repo, 'tools/cuda/out/send/2'), { recursive: true });
    r = sh('remote.sh', ['recv'], { cwd: repo, env });
    expect(r.stdout).toContain('READY');
    r = sh('remote.sh', ['assemble'], { cwd: repo, env });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const root = join(work, 'stage/root');
    expect(readFileSync(join(root, 'gru-cuda/data/blob.bin')).equals(blob)).toBe(true);
    expect(execFileSync(join(root, 'node/bin/node'), { encoding: 'utf8' }).trim()).toBe('v20.0.0');
    // Idempotent: a second assemble finds the archive already extracted.
    r = sh('remote.sh', ['assemble'], { cwd: repo, env });
    expect(r.stdout).toContain('core: already extracted');
  });

  it('rejects a damaged part with a precise message', () => {
    const dir = join(repo, 'tools/cuda/out/send/3');
    mkdirSync(dir, { recursive: true });
    cpSync(join(work, 'send/1/SHA256SUMS'), join(dir, 'SHA256SUMS'));
    const bad = readFileSync(join(work, 'send/1/core.tar.xz.part-00'));
    bad[100] = bad[100]! ^ 0xff;
    writeFileSync(join(dir, 'core.tar.xz.part-00'), bad);
    const r = sh('remote.sh', ['recv'], { cwd: repo, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/core\.tar\.xz\.part-00: SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64} \(transfer damaged it/);
  });
});
