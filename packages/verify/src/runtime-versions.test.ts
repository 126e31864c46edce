import { describe, expect, it } from 'vitest';
import { runtimeVersionNote } from './runtime-versions.ts';

describe('one onnxruntime version in Node and on the web', () => {
  it('says so when they differ, and why, and nothing when they agree or one is missing', () => {
    expect(runtimeVersionNote([{ 'onnxruntime-node': '1.29.0' }, {}, { 'onnxruntime-web': '1.30.0', chromium: '156' }])).toBe(
      'onnxruntime-node 1.29.0 and onnxruntime-web 1.30.0 differ: onnxruntime-node is pinned for its CUDA provider (the only build reachable from npm is for 1.29); ort-cpu and ort-cuda run 1.29.0, ort-wasm and browser-* run 1.30.0',
    );
    expect(runtimeVersionNote([{ 'onnxruntime-node': '1.30.0' }, { 'onnxruntime-web': '1.30.0' }])).toBeUndefined();
    expect(runtimeVersionNote([{ 'onnxruntime-node': '1.29.0' }])).toBeUndefined();
  });
});
