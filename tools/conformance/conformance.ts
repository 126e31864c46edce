/**
 * Replays ONNX's node-test bundles (Debian's libonnx-testdata, `data/node`: 932 bundles of onnx 1.12) through
 * what `verify --bundle DIR` does — read the bundle, run the structural checker, verifyModel with the bundle's
 * stored outputs as the expected values — on ort-cpu and ort-wasm, and sorts every bundle × backend into:
 *   pass            every output within tolerance (integers and bools exact)
 *   mismatch        the runtime ran and its outputs differ from onnx's (a real difference, reported as such)
 *   runtime-error   onnxruntime refused or failed (its own message is kept)
 *   nondeterministic  the model has random ops (RandomNormal, Bernoulli, Dropout in training…) and its outputs differ
 *   js-api-limit    an input is a sequence or optional value, which onnxruntime's JavaScript API cannot take
 *   refused         gru-onnx itself could not read or check the bundle (should be none)
 * One runner per backend is kept for all bundles (a worker child each), so the run takes minutes, not hours.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkModel, decodeModel } from '@gru-onnx/onnx';
import { UserError } from '@gru-onnx/model';
import { createRunner, loadBundle, randomOps, verifyModel, type BackendName, type Runner } from '@gru-onnx/verify';

export { randomOps, RANDOM_OPS } from '@gru-onnx/verify';
export const NODE_TESTS_DIR = '/usr/share/libonnx-testdata/data/node';
export const CONFORMANCE_BACKENDS: BackendName[] = ['ort-cpu', 'ort-wasm'];
export type Outcome = 'pass' | 'mismatch' | 'runtime-error' | 'nondeterministic' | 'js-api-limit' | 'refused';
export const OUTCOMES: Outcome[] = ['pass', 'mismatch', 'runtime-error', 'nondeterministic', 'js-api-limit', 'refused'];

export interface BundleResult {
  name: string;
  /** Random ops in the model (Dropout counted when it has a training_mode input). */
  randomOps: string[];
  outcomes: Partial<Record<BackendName, { outcome: Outcome; detail: string }>>;
}

/** A runner shared by many verifyModel calls: verifyModel closes the runners it is given, this one stays up. */
function shared(r: Runner): Runner {
  return { name: r.name, probe: () => r.probe(), run: (job, signal) => r.run(job, signal), close: async () => undefined };
}

export interface ConformanceOptions {
  backends?: BackendName[];
  /** --atol/--rtol for every backend (default: tolerances.json). */
  override?: { atol?: number; rtol?: number };
  onResult?: (r: BundleResult) => void;
}

export async function runConformance(dir: string, names: string[], options: ConformanceOptions = {}): Promise<BundleResult[]> {
  const backends = options.backends ?? CONFORMANCE_BACKENDS;
  const runners = backends.map((b) => createRunner(b, { timeoutMs: 60_000 }));
  const results: BundleResult[] = [];
  try {
    for (const name of names) {
      const path = join(dir, name);
      const result: BundleResult = { name, randomOps: [], outcomes: {} };
      results.push(result);
      const refuse = (detail: string) => {
        for (const b of backends) result.outcomes[b] = { outcome: 'refused', detail };
      };
      try {
        const bundle = loadBundle(path);
        const issues = checkModel(decodeModel(bundle.model, `${path}/model.onnx`));
        if (issues.length > 0) {
          refuse(`checker: ${issues[0]!.message}`);
        } else {
          result.randomOps = randomOps(bundle.model);
          const report = await verifyModel({ bundle, runners: runners.map(shared), ...(options.override ? { override: options.override } : {}) });
          for (const b of report.backends) {
            const detail = b.reason ?? '';
            const outcome: Outcome =
              b.status === 'pass'
                ? 'pass'
                : b.status === 'fail'
                  ? result.randomOps.length > 0
                    ? 'nondeterministic'
                    : 'mismatch'
                  : /takes tensors only/.test(detail)
                    ? 'js-api-limit'
                    : 'runtime-error';
            result.outcomes[b.name] = { outcome, detail };
          }
        }
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        refuse(err.message);
      }
      options.onResult?.(result);
    }
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
  return results;
}

export function nodeTestNames(dir = NODE_TESTS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((e) => e.startsWith('test_')).sort();
}

export function counts(results: BundleResult[], backends: BackendName[] = CONFORMANCE_BACKENDS): Record<string, Record<Outcome, number>> {
  const out: Record<string, Record<Outcome, number>> = {};
  for (const b of backends) {
    out[b] = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    for (const r of results) {
      const o = r.outcomes[b]?.outcome;
      if (o) out[b]![o]++;
    }
  }
  return out;
}
