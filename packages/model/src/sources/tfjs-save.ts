import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { writeFileAtomic } from '../atomic.ts';
import type { Tf } from '../backend.ts';

/** The weight files a model.json's manifest names, when it exists and parses; plain names beside it only. */
function previousWeightFiles(jsonPath: string): string[] {
  try {
    const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as { weightsManifest?: { paths?: unknown[] }[] };
    return (j.weightsManifest ?? []).flatMap((g) => g.paths ?? []).filter((p): p is string => typeof p === 'string' && /^[\w.-]+\.bin$/.test(p));
  } catch {
    return [];
  }
}

/**
 * Saves a tfjs LayersModel as `dir/model.json` + `dir/weights-<sha256 prefix>.bin`, the layout `tf.io.browserFiles`
 * and `file://` (tfjs-node) write, without tfjs-node: tfjs hands the artifacts to a save handler and this writes
 * them. The pair changes atomically: the weights go to a name of their own first, and model.json, renamed into
 * place last, is what switches to them; only then is the previous weights file removed. A kill at any moment
 * leaves the old pair or the new one.
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
      const weightsName = `weights-${createHash('sha256').update(weights).digest('hex').slice(0, 16)}.bin`;
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
      };
      const jsonPath = join(dir, 'model.json');
      const previous = previousWeightFiles(jsonPath);
      writeFileAtomic(join(dir, weightsName), weights);
      writeFileAtomic(jsonPath, new TextEncoder().encode(`${JSON.stringify(json)}\n`));
      for (const old of previous) if (old !== weightsName) rmSync(join(dir, old), { force: true });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}
