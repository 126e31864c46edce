import { statSync } from 'node:fs';
import { UserError } from '@gru-onnx/model';

/**
 * Checks that an option's path exists and is a file (or directory) before any library reads it, so the
 * error names the option the user typed: `error: --weights: no such file 'x.safetensors'`.
 */
export function requirePath(option: string, path: string, kind: 'file' | 'directory' | 'any'): string {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`${option}: no such ${kind === 'any' ? 'file' : kind} '${path}'`);
    throw new UserError(`${option}: cannot read '${path}' (${code || String(err)})`);
  }
  if (kind === 'file' && isDir) throw new UserError(`${option}: '${path}' is a directory, not a file`);
  if (kind === 'directory' && !isDir) throw new UserError(`${option}: '${path}' is a file, not a directory`);
  return path;
}
