import { describe, expect, it } from 'vitest';
// The package entry, as other packages import it: it must not load tfjs by itself.
import * as model from './index.ts';

describe('tfjs backend selection', () => {
  it('importing @gru-onnx/model does not load or initialise tfjs', () => {
    expect(typeof model.initTfjs).toBe('function');
    // tfjs-core creates its global engine when it is first imported.
    expect('_tfengine' in globalThis).toBe(false);
  });

  it('auto falls back to wasm when @tensorflow/tfjs-node is not installed, and says why', async () => {
    const h = await model.initTfjs('auto');
    expect('_tfengine' in globalThis).toBe(true);
    expect(h.backend).toBe('wasm');
    expect(h.note).toBe('@tensorflow/tfjs-node is not installed; using wasm');
    expect(h.tf.getBackend()).toBe('wasm');
    // The wasm binary really runs: a small matMul.
    const y = h.tf.matMul(h.tf.tensor2d([1, 2, 3, 4], [2, 2]), h.tf.tensor2d([5, 6, 7, 8], [2, 2]));
    expect(Array.from(await y.data())).toEqual([19, 22, 43, 50]);
    y.dispose();
  });

  it('cpu can be chosen, then wasm again', async () => {
    expect((await model.initTfjs('cpu')).backend).toBe('cpu');
    expect((await model.initTfjs('wasm')).backend).toBe('wasm');
  });

  it('tensorflow without tfjs-node, or an unknown name, is a UserError', async () => {
    await expect(model.initTfjs('tensorflow')).rejects.toThrow(/^tfjs backend 'tensorflow' is unavailable: @tensorflow\/tfjs-node is not installed/);
    await expect(model.initTfjs('webgl' as model.TfjsBackendChoice)).rejects.toBeInstanceOf(model.UserError);
  });
});
