/**
 * Every ```ts block in the root README.md and in packages/<name>/README.md is a runnable example: each is written
 * to a .ts file inside the repository (so `@gru-onnx/*` imports resolve through the workspace's node_modules), run
 * with `node --import tsx` from the repository root, and must exit 0 within 60 s. tsx does not type-check, so all
 * blocks are also compiled together under the root tsconfig: an example that calls an API with a renamed option
 * would otherwise run and prove nothing. A block whose first line starts with `// not runnable` is skipped
 * (a fragment, or one that needs a GPU or a network).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Ignored by git (.gitignore) and by tsc (a dot-directory); one folder per run, so concurrent runs do not collide. */
const TMP = join(ROOT, 'test', '.readme-tmp', `run-${process.pid}`);
const NOT_RUNNABLE = '// not runnable';
const RUN_TIMEOUT_MS = 60_000;

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  runnable: boolean;
}

/**
 * The ```ts (or ```typescript) fenced blocks of a Markdown text, CommonMark-style: a fence of three or more
 * backticks or tildes, closed by a line of at least as many of the same character; the opening fence's
 * indentation is removed from the block's lines. Blocks of other languages are skipped whole, so a ```ts line
 * quoted inside a ```md block is not taken for an example.
 */
function extractTsBlocks(markdown: string): Block[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: Block[] = [];
  let open: { fence: string; indent: number; isTs: boolean; line: number; body: string[] } | undefined;
  for (const [i, text] of lines.entries()) {
    if (!open) {
      const m = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
      if (m) open = { fence: m[2]!, indent: m[1]!.length, isTs: /^(ts|typescript)$/i.test(m[3]!), line: i + 1, body: [] };
      continue;
    }
    const close = /^\s*(`{3,}|~{3,})\s*$/.exec(text);
    if (close && close[1]![0] === open.fence[0] && close[1]!.length >= open.fence.length) {
      if (open.isTs) {
        const code = `${open.body.join('\n')}\n`;
        blocks.push({ line: open.line, code, runnable: !code.trimStart().startsWith(NOT_RUNNABLE) });
      }
      open = undefined;
      continue;
    }
    // Remove up to the fence's indentation, as CommonMark does for indented fences (list items).
    open.body.push(text.replace(new RegExp(`^ {0,${open.indent}}`), ''));
  }
  return blocks;
}

interface Readme {
  /** Path relative to the repository root, e.g. packages/model/README.md. */
  file: string;
  blocks: Block[];
}

function readmes(): Readme[] {
  const files = ['README.md'];
  for (const pkg of readdirSync(join(ROOT, 'packages')).sort()) {
    if (existsSync(join(ROOT, 'packages', pkg, 'README.md'))) files.push(`packages/${pkg}/README.md`);
  }
  return files
    .filter((f) => existsSync(join(ROOT, f)))
    .map((file) => ({ file, blocks: extractTsBlocks(readFileSync(join(ROOT, file), 'utf8')) }));
}

/** Where a block is written: its README's path and line, e.g. test/.readme-tmp/run-123/packages-model-README-L52.ts. */
function blockPath(file: string, b: Block): string {
  return join(TMP, `${file.replace(/\.md$/i, '').replace(/[^A-Za-z0-9]+/g, '-')}-L${b.line}.ts`);
}

function writeBlock(file: string, b: Block): string {
  const path = blockPath(file, b);
  mkdirSync(TMP, { recursive: true });
  writeFileSync(path, `// From ${file}, line ${b.line}; written by test/readme-examples.test.ts.\n${b.code}`);
  return path;
}

interface RunOutcome {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

function runTs(path: string): Promise<RunOutcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path],
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; killed?: boolean; signal?: string | null }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          timedOut: e?.killed === true,
          stdout,
          stderr,
        });
      },
    );
  });
}

const tail = (s: string, lines = 30): string => s.trimEnd().split('\n').slice(-lines).join('\n');

const all = readmes();

afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
});

describe('extractTsBlocks', () => {
  it('finds nothing in a README without ts blocks', () => {
    expect(extractTsBlocks('# Title\n\n```sh\npnpm gru-onnx demo\n```\n')).toEqual([]);
  });

  it('takes ts and typescript blocks with their line, and marks `// not runnable` ones', () => {
    const md = ['# x', '```ts', 'console.log(1);', '```', '', '```typescript', '// not runnable: needs CUDA', 'f();', '```'].join('\n');
    expect(extractTsBlocks(md)).toEqual([
      { line: 2, code: 'console.log(1);\n', runnable: true },
      { line: 6, code: '// not runnable: needs CUDA\nf();\n', runnable: false },
    ]);
  });

  it('ignores ts fences quoted inside another block, and dedents a block indented in a list', () => {
    const md = ['````md', '```ts', 'quoted();', '```', '````', '- step', '  ```ts', '  if (x) {', '    y();', '  }', '  ```'].join('\n');
    expect(extractTsBlocks(md)).toEqual([{ line: 7, code: 'if (x) {\n  y();\n}\n', runnable: true }]);
  });
});

describe.each(all)('$file', ({ file, blocks }) => {
  const runnable = blocks.filter((b) => b.runnable);
  if (runnable.length === 0) {
    it.skip('has no runnable ```ts block', () => {});
    return;
  }
  for (const b of runnable) {
    it(`the \`\`\`ts block at line ${b.line} runs and exits 0`, async () => {
      const path = writeBlock(file, b);
      const r = await runTs(path);
      const why = r.timedOut ? `killed after ${RUN_TIMEOUT_MS} ms` : `exit ${r.code ?? `signal ${r.signal}`}`;
      expect(r.code, `${file}:${b.line} (${path}): ${why}\n--- stderr ---\n${tail(r.stderr)}\n--- stdout ---\n${tail(r.stdout)}`).toBe(0);
    });
  }
});

describe('README ```ts blocks', () => {
  const runnable = all.flatMap(({ file, blocks }) => blocks.filter((b) => b.runnable).map((b) => ({ file, b })));

  it.skipIf(runnable.length === 0)('type-check under the root tsconfig', () => {
    // Written file line n (after the one-line header) is README line fence + n - 1.
    const origin = new Map(runnable.map(({ file, b }) => [ts.sys.resolvePath(writeBlock(file, b)), { file, b }]));
    const paths = [...origin.keys()];
    const configPath = join(ROOT, 'tsconfig.json');
    const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
    const program = ts.createProgram({ rootNames: paths, options: { ...parsed.options, noEmit: true } });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => !d.file || origin.has(ts.sys.resolvePath(d.file.fileName)))
      .map((d) => {
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        if (!d.file || d.start === undefined) return text;
        const { file, b } = origin.get(ts.sys.resolvePath(d.file.fileName))!;
        const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
        return `${file}:${b.line + line}:${character + 1}: ${text}`;
      });
    expect(problems).toEqual([]);
  });
});
