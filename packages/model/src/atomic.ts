import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.ts';

/**
 * Writes `bytes` to `path` so that the file appears complete or not at all: a temporary file in the same
 * directory (same filesystem, so rename is atomic), fsync, then rename over the final name.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (err) {
    throw cannotWrite(path, err);
  }
  try {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw cannotWrite(path, err);
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw cannotWrite(path, err);
  }
}

/** The user's path and the reason, not the temporary file's name: `x.onnx: cannot write (EISDIR: a directory)`. */
function cannotWrite(path: string, err: unknown): Error {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  const why: Record<string, string> = { ENOENT: `no directory ${dirname(path)}`, EISDIR: 'it is a directory', EACCES: 'permission denied', ENOTDIR: 'a parent is not a directory', EROFS: 'read-only file system', ENOSPC: 'no space left on the device' };
  if (!code) return err instanceof Error ? err : new Error(String(err));
  return new UserError(`${path}: cannot write (${why[code] ?? code})`);
}
