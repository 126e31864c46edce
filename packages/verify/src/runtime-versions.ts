/**
 * One onnxruntime version in Node and on the web, where it can be: onnxruntime-node is pinned at 1.29.0 because
 * the only CUDA provider build reachable from npm is for 1.29, while onnxruntime-web is 1.30.0. Where the two
 * differ, the doctor and the report say so, since ort-cpu/ort-cuda and ort-wasm/browser-* then run different
 * onnxruntime releases.
 */
export const NODE_PIN_REASON = 'onnxruntime-node is pinned for its CUDA provider (the only build reachable from npm is for 1.29)';

/** A one-line note when onnxruntime-node and onnxruntime-web differ, from any backends' versions; else undefined. */
export function runtimeVersionNote(versions: readonly Record<string, string>[]): string | undefined {
  const pick = (key: string) => versions.map((v) => v[key]).find((v) => v !== undefined);
  const node = pick('onnxruntime-node');
  const web = pick('onnxruntime-web');
  if (!node || !web || node === web) return undefined;
  return `onnxruntime-node ${node} and onnxruntime-web ${web} differ: ${NODE_PIN_REASON}; ort-cpu and ort-cuda run ${node}, ort-wasm and browser-* run ${web}`;
}
