import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { writeFileAtomic } from '../atomic.ts';
import type { Tf } from '../backend.ts';

/**
 * Saves a tfjs LayersModel as `dir/model.json` + `dir/weights.bin`, the layout `tf.io.browserFiles` and
 * `file://` (tfjs-node) write, without tfjs-node: tfjs hands the artifacts to a save handler and this writes them.
 */
export async function saveTfjsLayersModel(tf: Tf, model: TF.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const parts = artifacts.weightData === undefined ? [] : Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
      const weights = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
      let at = 0;
      for (const p of parts) {
        weights.set(new Uint8Array(p), at);
        at += p.byteLength;
      }
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileAtomic(join(dir, 'weights.bin'), weights);
      writeFileAtomic(join(dir, 'model.json'), new TextEncoder().encode(`${JSON.stringify(json)}\n`));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}
