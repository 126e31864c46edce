import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tracked = (): string[] => execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => f && existsSync(join(ROOT, f)));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative links of a markdown file ([text](target)), outside code fences and inline code. */
function linksOf(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) out.push(target);
    }
  }
  return out;
}

describe('the repository carries its own documents', () => {
  it('every relative link in a tracked markdown file reaches a tracked file, and its #anchor a heading there', () => {
    const files = new Set(tracked());
    const broken: string[] = [];
    for (const file of [...files].filter((f) => f.endsWith('.md'))) {
      for (const link of linksOf(readFileSync(join(ROOT, file), 'utf8'))) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path ? relative(ROOT, resolve(ROOT, dirname(file), decodeURIComponent(path))) : file;
        const isDir = existsSync(join(ROOT, target)) && statSync(join(ROOT, target)).isDirectory();
        if (!files.has(target) && !(isDir && [...files].some((f) => f.startsWith(`${target}/`)))) broken.push(`${file}: ${link} (no such file)`);
        else if (anchor && target.endsWith('.md') && !anchorsOf(readFileSync(join(ROOT, target), 'utf8')).has(anchor)) broken.push(`${file}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('finds a broken link and a broken anchor (the check above can fail)', () => {
    expect(linksOf('see [a](docs/nope.md#x), [b](https://example.com) and `[c](code.md)`')).toEqual(['docs/nope.md#x']);
    expect(anchorsOf('# The command-line contract\n## Facts measured\n```\n# not a heading\n```')).toEqual(new Set(['the-command-line-contract', 'facts-measured']));
  });

  it('no tracked file cites the planning brief that lives outside the repository', () => {
    const name = ['DESIGN', 'md'].join('.');
    const citing = tracked().filter((f) => !/\.(png|onnx|pb|bin|safetensors|wasm)$/.test(f) && readFileSync(join(ROOT, f), 'utf8').includes(name));
    expect(citing).toEqual([]);
  });
});

// docs/architecture.md, "Packages and what each may import".
const MAY_IMPORT: Record<string, string[]> = { model: [], onnx: ['model'], verify: ['model', 'onnx'], cli: ['model', 'onnx', 'verify'] };

describe('packages import only what docs/architecture.md allows', () => {
  it('by package name, and by no relative path into another package', () => {
    const wrong: string[] = [];
    for (const file of tracked().filter((f) => /^packages\/[^/]+\/src\/.*\.ts$/.test(f))) {
      const own = file.split('/')[1]!;
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(@gru-onnx\/[\w-]+|\.\.?\/[^']+)'/g)) {
        const spec = m[1]!;
        const other = spec.startsWith('@gru-onnx/') ? spec.slice('@gru-onnx/'.length) : relative(join(ROOT, 'packages'), resolve(ROOT, dirname(file), spec)).split('/')[0]!;
        if (other !== own && !MAY_IMPORT[own]!.includes(other)) wrong.push(`${file} imports ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
