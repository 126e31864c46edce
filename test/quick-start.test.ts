import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');

/** The README's Quick start: the first ```sh block under "## Quick start". */
function quickStart(text: string): string[] {
  const section = text.split(/^## Quick start$/m)[1] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  return block ? block[1]!.trimEnd().split('\n') : [];
}

describe('README Quick start', () => {
  it('is exactly two lines: install + demo, then install + the whole test suite', () => {
    const lines = quickStart(readme);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^npx -y pnpm@\d+\.\d+\.\d+ install && npx -y pnpm@\d+\.\d+\.\d+ demo$/);
    expect(lines[1]).toMatch(/^npx -y pnpm@\d+\.\d+\.\d+ install --frozen-lockfile && npx -y pnpm@\d+\.\d+\.\d+ test$/);
  });

  it('pins the pnpm of package.json in both lines', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { packageManager: string };
    for (const line of quickStart(readme)) {
      for (const pin of line.match(/pnpm@[\d.]+/g) ?? []) expect(pin).toBe(pkg.packageManager);
    }
  });

  it('line 2 is the command .ci/run executes (it reads it from the README)', () => {
    // .ci/run's own extraction, run on this README: the two can never drift apart.
    const script = readFileSync(new URL('.ci/run', root), 'utf8');
    const awk = /test_cmd=\$\((awk '[^']*' README\.md \| sed -n 2p)\)/.exec(script);
    expect(awk, '.ci/run no longer reads the README').not.toBeNull();
    const extracted = execFileSync('bash', ['-c', awk![1]!], { cwd: new URL('.', root), encoding: 'utf8' }).trim();
    expect(extracted).toBe(quickStart(readme)[1]);
  });
});
