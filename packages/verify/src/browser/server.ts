import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The loopback HTTP server a browser runner's page loads from: the page, onnxruntime-web's dist files
 * (ort*.mjs and .wasm only), and per-run blobs (model bytes, packed inputs); the page POSTs its outputs' bytes
 * back to paths the runner opened for them (binary both ways: no base64 through CDP). Bound to 127.0.0.1 on a free port;
 * cross-origin isolated (COOP/COEP) so SharedArrayBuffer, and with it wasm threads, are available.
 */
export interface PageServer {
  readonly origin: string;
  /** Publishes bytes at a fresh path for one run; returns the path. */
  put(bytes: Uint8Array, suffix: string): string;
  drop(path: string): void;
  /** Opens a fresh path the page may POST bytes to, once; returns the path. */
  accept(suffix: string): string;
  /** The bytes POSTed to an accepted path (undefined if none came), and closes the path. */
  take(path: string): Uint8Array | undefined;
  /** onnxruntime-web files the page has fetched so far, in order: which wasm build it really loaded. */
  fetched(): string[];
  close(): Promise<void>;
}

const PAGE = fileURLToPath(new URL('./page.html', import.meta.url));
const ORT_FILE = /^\/ort\/(ort[\w.-]*\.(?:mjs|wasm))$/;

const TYPES: Record<string, string> = { mjs: 'text/javascript', wasm: 'application/wasm', html: 'text/html; charset=utf-8' };

export async function startPageServer(ortDistDir: string): Promise<PageServer> {
  const blobs = new Map<string, Uint8Array>();
  /** Accepted upload paths: undefined until the page has POSTed to them. */
  const uploads = new Map<string, Uint8Array | undefined>();
  const fetched: string[] = [];
  let next = 0;
  const send = (res: ServerResponse, status: number, type: string, body: Uint8Array | string): void => {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
    });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'POST') {
      if (!uploads.has(path) || uploads.get(path) !== undefined) return send(res, 404, 'text/plain', 'not an open upload path');
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      // A path dropped (take) while the body was arriving stays closed.
      if (uploads.has(path)) uploads.set(path, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      return send(res, 204, 'text/plain', '');
    }
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'GET and POST only');
    if (path === '/' || path === '/index.html') return send(res, 200, TYPES.html!, await readFile(PAGE));
    const ort = ORT_FILE.exec(path);
    if (ort) {
      const file = ort[1]!;
      if (!fetched.includes(file)) fetched.push(file);
      try {
        return send(res, 200, TYPES[file.endsWith('.wasm') ? 'wasm' : 'mjs']!, await readFile(join(ortDistDir, file)));
      } catch (err) {
        if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return send(res, 404, 'text/plain', 'not found');
        throw err;
      }
    }
    const blob = blobs.get(path);
    if (blob) return send(res, 200, 'application/octet-stream', blob);
    return send(res, 404, 'text/plain', 'not found');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    origin: `http://127.0.0.1:${port}`,
    put(bytes, suffix) {
      const path = `/run/${next++}/${suffix}`;
      blobs.set(path, bytes);
      return path;
    },
    accept(suffix) {
      const path = `/out/${next++}/${suffix}`;
      uploads.set(path, undefined);
      return path;
    },
    take(path) {
      const bytes = uploads.get(path);
      uploads.delete(path);
      return bytes;
    },
    drop(path) {
      blobs.delete(path);
    },
    fetched() {
      return [...fetched];
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        blobs.clear();
        uploads.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
