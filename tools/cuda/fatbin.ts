// Prunes the CUDA fat binaries inside an ELF shared library down to the GPU architectures we run on.
//
// libonnxruntime_providers_cuda.so (ONNX Runtime 1.29.0, CUDA 13 build) is 230 MB, 166 MB of it the `.nv_fatbin`
// section: 289 fat binaries, each holding one zstd-compressed cubin per SM architecture (75, 80, 86, 89, 90, 120)
// and no PTX. An H100 or H200 (sm_90) can only load the sm_90 cubins. Keeping only those entries — in place, so every
// fat binary starts where it did and the wrappers that point at it stay valid — and zeroing the freed tail leaves a
// library that behaves on sm_90 exactly as the original, and compresses to a third of the size.
//
// Fat binary layout (little-endian), as nvcc writes it:
//   header  : u32 magic 0xBA55ED50, u16 version, u16 headerSize, u64 fatSize (bytes of entries after the header)
//   entry   : u16 kind (1 PTX, 2 ELF), u16 version, u32 headerSize, u64 payloadSize (padded),
//             ... u32 smArch at offset 28 ..., then payloadSize bytes of payload
// A fat binary that holds no entry for a kept architecture is left untouched.

export const FATBIN_MAGIC = 0xba55ed50;

export interface ElfSection {
  name: string;
  offset: number;
  size: number;
}

export interface FatbinEntry {
  kind: number;
  arch: number;
  /** Offset of the entry header, from the start of the buffer. */
  offset: number;
  /** Header plus payload. */
  length: number;
}

export interface FatbinInfo {
  offset: number;
  headerSize: number;
  fatSize: number;
  entries: FatbinEntry[];
}

export interface PruneStats {
  fatbins: number;
  pruned: number;
  /** Fat binaries with no entry for a kept architecture, left as they were. */
  untouched: number;
  entriesBefore: number;
  entriesAfter: number;
  bytesFreed: number;
  archBytes: Record<string, number>;
}

/** Section headers of a 64-bit little-endian ELF file. */
export function elfSections(buf: Buffer): ElfSection[] {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('only 64-bit little-endian ELF is supported');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      nameOff: buf.readUInt32LE(at),
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
    });
  }
  const strtab = raw[shstrndx];
  if (!strtab) throw new Error('ELF has no section name table');
  return raw.map((s) => {
    const start = strtab.offset + s.nameOff;
    const end = buf.indexOf(0, start);
    // SHT_NOBITS (8) sections occupy no bytes in the file.
    return { name: buf.toString('latin1', start, end), offset: s.offset, size: s.type === 8 ? 0 : s.size };
  });
}

/** Walks the fat binaries in [start, end): 8-byte aligned headers, zero padding between them. */
export function parseFatbins(buf: Buffer, start: number, end: number): FatbinInfo[] {
  const out: FatbinInfo[] = [];
  let pos = start;
  while (pos + 16 <= end) {
    if (buf.readUInt32LE(pos) !== FATBIN_MAGIC) {
      if (buf.readBigUInt64LE(pos) !== 0n) throw new Error(`unexpected bytes in fat binary section at 0x${pos.toString(16)}`);
      pos += 8;
      continue;
    }
    const headerSize = buf.readUInt16LE(pos + 6);
    const fatSize = Number(buf.readBigUInt64LE(pos + 8));
    const entries: FatbinEntry[] = [];
    let p = pos + headerSize;
    const fatEnd = p + fatSize;
    if (fatEnd > end) throw new Error(`fat binary at 0x${pos.toString(16)} overruns its section`);
    while (p < fatEnd) {
      const kind = buf.readUInt16LE(p);
      const ehsz = buf.readUInt32LE(p + 4);
      const esz = Number(buf.readBigUInt64LE(p + 8));
      const arch = buf.readUInt32LE(p + 28);
      if (ehsz < 32 || p + ehsz + esz > fatEnd) throw new Error(`bad fat binary entry at 0x${p.toString(16)}`);
      entries.push({ kind, arch, offset: p, length: ehsz + esz });
      p += ehsz + esz;
    }
    out.push({ offset: pos, headerSize, fatSize, entries });
    pos = fatEnd;
  }
  return out;
}

/** Keeps only the entries for `keepArchs` in every fat binary of the `.nv_fatbin` section, in place. */
export function pruneFatbins(buf: Buffer, keepArchs: readonly number[]): PruneStats {
  const section = elfSections(buf).find((s) => s.name === '.nv_fatbin');
  if (!section) throw new Error('no .nv_fatbin section');
  return pruneFatbinRange(buf, section.offset, section.offset + section.size, keepArchs);
}

/** Same, over the fat binaries in buf[start, end) (a whole .fatbin file: 0, its length). */
export function pruneFatbinRange(buf: Buffer, start: number, end: number, keepArchs: readonly number[]): PruneStats {
  const fatbins = parseFatbins(buf, start, end);
  const stats: PruneStats = {
    fatbins: fatbins.length,
    pruned: 0,
    untouched: 0,
    entriesBefore: 0,
    entriesAfter: 0,
    bytesFreed: 0,
    archBytes: {},
  };
  for (const fb of fatbins) {
    stats.entriesBefore += fb.entries.length;
    for (const e of fb.entries) {
      const key = `${e.kind === 1 ? 'ptx' : 'sm'}_${e.arch}`;
      stats.archBytes[key] = (stats.archBytes[key] ?? 0) + e.length;
    }
    const keep = fb.entries.filter((e) => keepArchs.includes(e.arch));
    if (keep.length === 0 || keep.length === fb.entries.length) {
      stats.untouched += keep.length === 0 ? 1 : 0;
      stats.entriesAfter += fb.entries.length;
      continue;
    }
    const body = Buffer.concat(keep.map((e) => Buffer.from(buf.subarray(e.offset, e.offset + e.length))));
    const bodyStart = fb.offset + fb.headerSize;
    body.copy(buf, bodyStart);
    buf.fill(0, bodyStart + body.length, bodyStart + fb.fatSize);
    buf.writeBigUInt64LE(BigInt(body.length), fb.offset + 8);
    stats.pruned += 1;
    stats.entriesAfter += keep.length;
    stats.bytesFreed += fb.fatSize - body.length;
  }
  // Re-parse: the range must still walk cleanly, with as many fat binaries at the same offsets.
  const after = parseFatbins(buf, start, end);
  if (after.length !== fatbins.length || after.some((f, i) => f.offset !== fatbins[i]!.offset)) {
    throw new Error('pruning moved or lost a fat binary');
  }
  return stats;
}

async function main(argv: string[]): Promise<void> {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const [input, output, archList] = argv;
  if (!input || !output) {
    console.error('usage: fatbin.ts INPUT.so OUTPUT.so [ARCHS, default 90]');
    process.exit(2);
  }
  const archs = (archList ?? '90').split(',').map((a) => Number.parseInt(a, 10));
  const buf = readFileSync(input);
  const stats = pruneFatbins(buf, archs);
  writeFileSync(output, buf, { mode: 0o755 });
  console.log(JSON.stringify({ input, output, keepArchs: archs, ...stats }, null, 2));
}

if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
