import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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
  removeStaleTemporaries(path);
}

/**
 * `mkdir -p` without Node's recursive mkdirSync, which never returns where mkdir fails with ENOENT under an
 * existing parent (`/proc/x`: measured on Node 20, it spins at full CPU). Creates each missing level in turn.
 */
export function makeDirectory(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st?.isDirectory()) return;
  if (st) throw new UserError(`${dir}: exists and is not a directory`);
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    // Another process may have made it meanwhile.
    const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    if (code !== 'EEXIST') throw new UserError(`${dir}: cannot create the directory (${code})`);
  }
}

/**
 * A writer killed mid-write (SIGKILL, power loss) leaves its temporary file behind; the next successful write of
 * the same name removes those whose process is gone. A live writer's temporary file is never touched.
 */
function removeStaleTemporaries(path: string): void {
  const prefix = `.${basename(path)}.tmp-`;
  let entries: string[];
  try {
    entries = readdirSync(dirname(path));
  } catch (err) {
    // Listing is best effort: the write itself succeeded.
    if (err instanceof Error && 'code' in err) return;
    throw err;
  }
  for (const e of entries) {
    const m = e.startsWith(prefix) ? /^(\d+)-[0-9a-f]+$/.exec(e.slice(prefix.length)) : null;
    if (m && !processAlive(Number(m[1]))) rmSync(join(dirname(path), e), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return !(err instanceof Error && 'code' in err && err.code === 'ESRCH');
  }
}

/** The user's path and the reason, not the temporary file's name: `x.onnx: cannot write (EISDIR: a directory)`. */
function cannotWrite(path: string, err: unknown): Error {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  const why: Record<string, string> = { ENOENT: `no directory ${dirname(path)}`, EISDIR: 'it is a directory', EACCES: 'permission denied', ENOTDIR: 'a parent is not a directory', EROFS: 'read-only file system', ENOSPC: 'no space left on the device' };
  if (!code) return err instanceof Error ? err : new Error(String(err));
  return new UserError(`${path}: cannot write (${why[code] ?? code})`);
}
