// Bundles a TypeScript entry (the gru-onnx CLI, the CUDA bench) into one ESM file that runs on bare Node 20 with
// only onnxruntime-node beside it — for the GPU machine, which has no node_modules and no registry.
//
//   tsx tools/cuda/bundle.ts --entry packages/cli/src/bin.ts --out STAGE/app/gru-onnx.mjs [--root STAGE]
//                            [--entry2 tools/cuda/bench-cuda.ts --out2 STAGE/app/bench-cuda.mjs]
//                            [--entry3 tools/placement/gpu-placement.ts --out3 STAGE/app/gpu-placement.mjs] [--ort-node]
//
// - onnxruntime-node, onnxruntime-web, @tensorflow/*, playwright-core stay external. Only onnxruntime-node (and
//   onnxruntime-common, which it requires) is copied, into STAGE/app/node_modules, linux-x64 binaries only; the
//   others are imported lazily by the code, so their runners report "not installed" instead of breaking the load.
// - Files the code reaches through `new URL('<relative>', import.meta.url)` (the onnxruntime worker child,
//   tolerances.json) or `createRequire(import.meta.url)('<relative>')` (the CLI's package.json, for --version) are
//   copied to the same relative place from the bundle, inside STAGE.
// - A static import of an external that is not shipped would fail the whole bundle at load. Such a package gets a
//   stub in STAGE/app/node_modules exporting the imported names as values that throw "not shipped" when used, so
//   the bundle loads and only the feature that needs it (e.g. the PNG report screenshot) fails, saying why.
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const EXTERNALS = ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common', '@tensorflow/*', 'playwright-core', 'playwright'];
/** Externals present at run time on the GPU machine. */
export const SHIPPED = ['onnxruntime-node', 'onnxruntime-common'];

const BANNER = [
  "import { createRequire as __gruCreateRequire } from 'node:module';",
  'const require = __gruCreateRequire(import.meta.url);',
].join('\n');

export interface BundleResult {
  outfile: string;
  bytes: number;
  assets: { from: string; to: string }[];
  skippedAssets: { from: string; why: string }[];
  staticExternals: string[];
  stubs: { package: string; names: string[] }[];
}

const URL_RE = /new\s+URL\(\s*(['"`])([^'"`]+)\1\s*,\s*import\.meta\.url\s*\)/g;
/** `createRequire(import.meta.url)('../package.json')` (the CLI's version): esbuild leaves the call, so the file must be there too. */
const REQUIRE_RE = /createRequire\(\s*import\.meta\.url\s*\)\(\s*(['"`])(\.\.?\/[^'"`]+)\1\s*\)/g;

function isExternal(spec: string): boolean {
  return EXTERNALS.some((e) => (e.endsWith('/*') ? spec.startsWith(e.slice(0, -1)) : spec === e || spec.startsWith(`${e}/`)));
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export async function bundle(entry: string, outfile: string, root: string): Promise<BundleResult> {
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNALS,
    banner: { js: BANNER },
    metafile: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    tsconfig: 'tsconfig.json',
  });
  const meta: Metafile = result.metafile;
  const out = meta.outputs[relative(process.cwd(), outfile)] ?? Object.values(meta.outputs)[0]!;
  const staticExternals = [
    ...new Set(out.imports.filter((i) => i.external && i.kind === 'import-statement' && !i.path.startsWith('node:')).map((i) => i.path)),
  ].filter((p) => isExternal(p) && !SHIPPED.includes(packageOf(p)));
  const assets: BundleResult['assets'] = [];
  const skippedAssets: BundleResult['skippedAssets'] = [];
  const rootAbs = resolve(root);
  for (const input of Object.keys(meta.inputs)) {
    if (input.includes('node_modules') || !/\.(m?[jt]s)$/.test(input)) continue;
    const text = readFileSync(input, 'utf8');
    for (const m of [...text.matchAll(URL_RE), ...text.matchAll(REQUIRE_RE)]) {
      const rel = m[2]!;
      const from = resolve(dirname(input), rel);
      const to = resolve(dirname(outfile), rel);
      if (!existsSync(from)) {
        skippedAssets.push({ from, why: 'does not exist' });
        continue;
      }
      if (statSync(from).isDirectory()) {
        skippedAssets.push({ from, why: 'a directory (not shipped)' });
        continue;
      }
      const inside = relative(rootAbs, to);
      if (inside.startsWith('..') || isAbsolute(inside)) {
        skippedAssets.push({ from, why: `would land outside the stage (${to})` });
        continue;
      }
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to);
      assets.push({ from: relative(process.cwd(), from), to: relative(rootAbs, to) });
    }
  }
  const stubs = staticExternals.length > 0 ? writeStubs(outfile, staticExternals) : [];
  return { outfile, bytes: statSync(outfile).size, assets, skippedAssets, staticExternals, stubs };
}

/** The names a bundle imports from `spec` with static import statements. */
export function importedNames(code: string, spec: string): { names: string[]; hasDefault: boolean } {
  const esc = spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const re = new RegExp(`^import\\s+([^;]*?)\\s+from\\s+["']${esc}["'];?`, 'gm');
  const names = new Set<string>();
  let hasDefault = false;
  for (const m of code.matchAll(re)) {
    const clause = m[1]!.trim();
    const braces = /\{([^}]*)\}/.exec(clause);
    if (braces) {
      for (const part of braces[1]!.split(',')) {
        const name = part.trim().split(/\s+as\s+/)[0]!.trim();
        if (name === 'default') hasDefault = true;
        else if (name) names.add(name);
      }
    }
    // `import X from`, `import * as X from` (or either beside braces): the stub's default export serves both.
    if (clause.replace(/\{[^}]*\}/, '').replace(/,/g, ' ').trim()) hasDefault = true;
  }
  return { names: [...names].sort(), hasDefault };
}

function writeStubs(outfile: string, specs: string[]): { package: string; names: string[] }[] {
  const code = readFileSync(outfile, 'utf8');
  const out: { package: string; names: string[] }[] = [];
  for (const pkg of [...new Set(specs.map(packageOf))]) {
    const names = new Set<string>();
    for (const spec of specs.filter((s) => packageOf(s) === pkg)) for (const n of importedNames(code, spec).names) names.add(n);
    const dir = join(dirname(outfile), 'node_modules', pkg);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: pkg, version: '0.0.0-not-shipped', type: 'module', main: 'index.js', exports: { '.': './index.js', './*': './index.js' } }, null, 2)}\n`);
    const why = `${pkg} is not shipped with this bundle (tools/cuda/bundle.ts): unavailable on this machine`;
    writeFileSync(
      join(dir, 'index.js'),
      [
        `// Stub: ${why}.`,
        `const why = ${JSON.stringify(why)};`,
        'const fail = () => { throw new Error(why); };',
        "const stub = new Proxy(function notShipped() {}, { get: (_t, p) => (p === 'then' || typeof p === 'symbol' ? undefined : fail()), apply: fail, construct: fail });",
        'export default stub;',
        ...[...names].map((n) => `export const ${n} = stub;`),
        '',
      ].join('\n'),
    );
    out.push({ package: pkg, names: [...names] });
  }
  return out;
}

/** Directory of an installed package, resolved from the workspace (pnpm's layout). */
function packageDir(name: string, from: string): string {
  const req = createRequire(from);
  const entry = req.resolve(name);
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new Error(`package.json of ${name} not found above ${entry}`);
}

/**
 * Copies onnxruntime-node (linux-x64 binaries only, no sources or install scripts) and onnxruntime-common into
 * `nodeModules`. Returns onnxruntime-node's binding directory there, where the provider libraries must go.
 */
export function copyOrtNode(nodeModules: string, expectVersion = '1.29.0'): { bindingDir: string; version: string; bytes: number } {
  const workspaceRequireBase = join(process.cwd(), 'packages/verify/package.json');
  const ortDir = packageDir('onnxruntime-node', workspaceRequireBase);
  const version = (JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
  if (version !== expectVersion) throw new Error(`onnxruntime-node is ${version} in the workspace, expected ${expectVersion}`);
  const commonDir = packageDir('onnxruntime-common', join(ortDir, 'package.json'));
  const dstOrt = join(nodeModules, 'onnxruntime-node');
  rmSync(dstOrt, { recursive: true, force: true });
  mkdirSync(dstOrt, { recursive: true });
  for (const f of ['package.json', 'README.md']) cpSync(join(ortDir, f), join(dstOrt, f));
  // The package's own licence text is not in the npm tarball; README names it MIT.
  cpSync(join(ortDir, 'dist'), join(dstOrt, 'dist'), { recursive: true, filter: (s) => !s.endsWith('.map') });
  const bindingRel = 'bin/napi-v6/linux/x64';
  const bindingDir = join(dstOrt, bindingRel);
  mkdirSync(bindingDir, { recursive: true });
  for (const f of readdirSync(join(ortDir, bindingRel))) cpSync(join(ortDir, bindingRel, f), join(bindingDir, f), { dereference: true });
  const dstCommon = join(nodeModules, 'onnxruntime-common');
  rmSync(dstCommon, { recursive: true, force: true });
  cpSync(commonDir, dstCommon, {
    recursive: true,
    dereference: true,
    filter: (s) => !s.endsWith('.map') && !s.includes(`${commonDir}/lib`),
  });
  let bytes = 0;
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else bytes += st.size;
    }
  };
  walk(nodeModules);
  return { bindingDir, version, bytes };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      entry: { type: 'string' },
      out: { type: 'string' },
      entry2: { type: 'string' },
      out2: { type: 'string' },
      entry3: { type: 'string' },
      out3: { type: 'string' },
      root: { type: 'string' },
      'ort-node': { type: 'boolean' },
    },
  });
  const pairs: [string, string][] = [];
  if (typeof args.entry === 'string' && typeof args.out === 'string') pairs.push([args.entry, args.out]);
  if (typeof args.entry2 === 'string' && typeof args.out2 === 'string') pairs.push([args.entry2, args.out2]);
  if (typeof args.entry3 === 'string' && typeof args.out3 === 'string') pairs.push([args.entry3, args.out3]);
  if (pairs.length === 0) {
    console.error('usage: bundle.ts --entry FILE.ts --out STAGE/app/NAME.mjs [--entry2 FILE.ts --out2 FILE.mjs] [--entry3 FILE.ts --out3 FILE.mjs] [--root STAGE] [--ort-node]');
    process.exit(2);
  }
  const root = typeof args.root === 'string' ? args.root : dirname(dirname(pairs[0]![1]));
  const report: Record<string, unknown> = {};
  for (const [entry, out] of pairs) {
    const r = await bundle(entry, out, root);
    report[basename(out)] = r;
    for (const st of r.stubs) {
      console.error(`warning: ${out} imports ${st.package} statically (${st.names.join(', ') || 'default'}); it is not shipped, so a stub that throws when used stands in`);
    }
  }
  if (args['ort-node']) report.ortNode = copyOrtNode(join(dirname(pairs[0]![1]), 'node_modules'));
  const summary = JSON.stringify(report, null, 2);
  writeFileSync(join(root, 'bundle-report.json'), summary);
  console.log(summary);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  await main();
}
