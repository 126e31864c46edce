import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { UserError } from './errors.ts';

/** The tfjs module type; tfjs itself is only loaded by `initTfjs`, so importing this package stays cheap. */
export type Tf = typeof TF;

/** `auto`: tfjs-node's `tensorflow` backend when `@tensorflow/tfjs-node` is installed, else `wasm`. */
export const TFJS_BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow'] as const;
export type TfjsBackendChoice = (typeof TFJS_BACKENDS)[number];

export interface TfjsHandle {
  tf: Tf;
  /** The backend actually in use (`tf.getBackend()`): `wasm`, `cpu` or `tensorflow`. */
  backend: string;
  /** Why `auto` chose what it chose (e.g. tfjs-node not installed), for the CLI to print. */
  note: string;
}

let tfjsModule: Promise<Tf> | undefined;
let wasmRegistered: Promise<void> | undefined;
let tfjsNode: Promise<{ tf: Tf } | { reason: string }> | undefined;

/** Resolves a package from this package, then from the working directory (where a user would install it). */
function resolveFrom(specifier: string): string | undefined {
  for (const base of [import.meta.url, pathToFileURL(join(process.cwd(), 'package.json')).href]) {
    try {
      return createRequire(base).resolve(specifier);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'MODULE_NOT_FOUND')) throw err;
    }
  }
  return undefined;
}

function loadTfjsNode(): Promise<{ tf: Tf } | { reason: string }> {
  tfjsNode ??= (async () => {
    const path = resolveFrom('@tensorflow/tfjs-node');
    if (path === undefined) return { reason: '@tensorflow/tfjs-node is not installed' };
    try {
      // tfjs-node re-exports the whole tfjs API bound to its own tfjs-core, so its module is the `tf` to use.
      const mod: unknown = await import(pathToFileURL(path).href);
      const tf = (mod as { default?: Tf }).default ?? (mod as Tf);
      return { tf };
    } catch (err) {
      return { reason: `@tensorflow/tfjs-node failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
    }
  })();
  return tfjsNode;
}

async function loadTfjs(): Promise<Tf> {
  tfjsModule ??= import('@tensorflow/tfjs');
  return tfjsModule;
}

/** Registers the wasm backend, pointing it at the `.wasm` files in the installed package's `dist/`. */
async function registerWasm(): Promise<void> {
  wasmRegistered ??= (async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const main = resolveFrom('@tensorflow/tfjs-backend-wasm');
    // The package's Node entry is dist/tf-backend-wasm.node.js; the .wasm binaries sit beside it.
    if (main !== undefined) wasm.setWasmPaths(`${dirname(main)}/`);
  })();
  return wasmRegistered;
}

/**
 * Loads tfjs and switches it to the chosen backend. Safe to call repeatedly and to switch backends between
 * calls (tensors are not carried across; callers dispose their own).
 */
export async function initTfjs(choice: TfjsBackendChoice = 'auto'): Promise<TfjsHandle> {
  if (!(TFJS_BACKENDS as readonly string[]).includes(choice)) {
    throw new UserError(`unknown tfjs backend '${choice}' (choose one of ${TFJS_BACKENDS.join(', ')})`);
  }
  let note = '';
  if (choice === 'auto' || choice === 'tensorflow') {
    const node = await loadTfjsNode();
    if ('tf' in node) {
      await node.tf.setBackend('tensorflow');
      await node.tf.ready();
      return { tf: node.tf, backend: node.tf.getBackend(), note: 'using @tensorflow/tfjs-node' };
    }
    if (choice === 'tensorflow') throw new UserError(`tfjs backend 'tensorflow' is unavailable: ${node.reason} (npm install @tensorflow/tfjs-node)`);
    note = `${node.reason}; using wasm`;
  }
  const tf = await loadTfjs();
  // tfjs prints a banner on first use of its cpu backend in Node; library code must not print, and PROD only
  // silences tfjs's warnings (tfjs-core 4.22 reads it nowhere else).
  tf.env().set('PROD', true);
  const target = choice === 'cpu' ? 'cpu' : 'wasm';
  if (target === 'wasm') await registerWasm();
  if (!(await tf.setBackend(target))) throw new UserError(`tfjs backend '${target}' failed to initialise`);
  await tf.ready();
  return { tf, backend: tf.getBackend(), note };
}
