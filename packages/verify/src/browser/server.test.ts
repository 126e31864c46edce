import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { startPageServer } from './server.ts';

const dist = mkdtempSync(join(tmpdir(), 'gru-onnx-server-test-'));
afterAll(() => rmSync(dist, { recursive: true, force: true }));

test('outputs come back as bytes: a POST lands only on a path opened for it, once, and take closes it', async () => {
  const server = await startPageServer(dist);
  try {
    const post = (path: string, body: Uint8Array<ArrayBuffer>) => fetch(`${server.origin}${path}`, { method: 'POST', body });
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    // Never opened: refused, nothing kept.
    expect((await post('/out/0/x.bin', bytes)).status).toBe(404);
    expect(server.take('/out/0/x.bin')).toBeUndefined();
    const path = server.accept('y.bin');
    expect(server.take(path)).toBeUndefined();
    const again = server.accept('y.bin');
    expect(again).not.toBe(path);
    expect((await post(again, bytes)).status).toBe(204);
    // A second POST to the same path is refused and does not replace the first.
    expect((await post(again, new Uint8Array(3))).status).toBe(404);
    expect(server.take(again)).toEqual(bytes);
    expect(server.take(again)).toBeUndefined();
    expect((await post(again, bytes)).status).toBe(404);
    // GET of an upload path serves nothing.
    const open = server.accept('z.bin');
    expect((await fetch(`${server.origin}${open}`)).status).toBe(404);
    expect((await fetch(`${server.origin}/`, { method: 'PUT' })).status).toBe(405);
  } finally {
    await server.close();
  }
});
