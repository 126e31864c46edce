import { readFileSync } from 'node:fs';
import { UserError } from '@gru-onnx/model';
import type { Tolerance } from './compare.ts';
import { BACKENDS } from './runner.ts';
import type { BackendName } from './runner.ts';
import type { DType } from './tensor.ts';

/** Float dtypes with a tolerance of their own; float32 and float64 use the backend's atol/rtol. */
export const HALF_DTYPES = ['float16', 'bfloat16'] as const;
export type HalfDType = (typeof HALF_DTYPES)[number];

/**
 * A backend's tolerance and where it came from (the defaults file, a user file, or the command line): atol/rtol
 * for float32 and float64 outputs, and an entry per half-precision dtype.
 */
export interface BackendTolerance extends Tolerance {
  source: string;
  float16?: Tolerance;
  bfloat16?: Tolerance;
}

/** The float tolerance a backend applies to an output of `dtype` (integer, bool and string outputs are exact). */
export function toleranceFor(t: BackendTolerance, dtype: DType): Tolerance {
  const half = dtype === 'float16' || dtype === 'bfloat16' ? t[dtype] : undefined;
  return half ?? { atol: t.atol, rtol: t.rtol };
}
export type ToleranceTable = Record<BackendName, BackendTolerance>;

/** The documented defaults, next to package.json so users can read and copy them. */
export const DEFAULT_TOLERANCES_URL = new URL('../tolerances.json', import.meta.url);

function checkNumber(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new UserError(`${where}: must be a finite number ≥ 0`);
  return v;
}

/** Parses a tolerances file: `{ backends: { <name>: { atol, rtol } } }`. Backends left out keep `base`'s values. */
export function parseTolerances(text: string, source: string, base?: ToleranceTable): ToleranceTable {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const backends = typeof doc === 'object' && doc !== null && 'backends' in doc ? doc.backends : undefined;
  if (typeof backends !== 'object' || backends === null) throw new UserError(`${source}: expected an object with "backends"`);
  const out: Partial<ToleranceTable> = { ...base };
  for (const [name, entry] of Object.entries(backends)) {
    if (!(BACKENDS as readonly string[]).includes(name)) throw new UserError(`${source}: unknown backend "${name}" (known: ${BACKENDS.join(', ')})`);
    if (typeof entry !== 'object' || entry === null) throw new UserError(`${source}: backends.${name} must be an object`);
    const e = entry as Record<string, unknown>;
    const where = `${source}: backends.${name}`;
    const t: BackendTolerance = { atol: checkNumber(e.atol, `${where}.atol`), rtol: checkNumber(e.rtol, `${where}.rtol`), source };
    for (const half of HALF_DTYPES) {
      // Absent keeps the base table's entry; null is a mistake to name, not a way to say "default".
      const h = half in e ? e[half] : base?.[name as BackendName]?.[half];
      if (h === undefined) continue;
      if (typeof h !== 'object' || h === null) throw new UserError(`${where}.${half} must be an object with atol and rtol`);
      const hh = h as Record<string, unknown>;
      t[half] = { atol: checkNumber(hh.atol, `${where}.${half}.atol`), rtol: checkNumber(hh.rtol, `${where}.${half}.rtol`) };
    }
    out[name as BackendName] = t;
  }
  const missing = BACKENDS.filter((b) => out[b] === undefined);
  if (missing.length > 0) throw new UserError(`${source}: no tolerance for ${missing.join(', ')}`);
  return out as ToleranceTable;
}

let defaults: ToleranceTable | undefined;

/** The defaults from packages/verify/tolerances.json. */
export function defaultTolerances(): ToleranceTable {
  defaults ??= parseTolerances(readFileSync(DEFAULT_TOLERANCES_URL, 'utf8'), 'tolerances.json');
  return { ...defaults };
}

/** A user's tolerances file layered over the defaults. */
export function loadTolerances(path: string): ToleranceTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`${path}: cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseTolerances(text, path, defaultTolerances());
}

/** `--atol` / `--rtol` from the command line replace that number for every backend and every float dtype. */
export function applyOverride(table: ToleranceTable, override: Partial<Tolerance> | undefined): ToleranceTable {
  if (!override || (override.atol === undefined && override.rtol === undefined)) return table;
  const out = { ...table };
  for (const b of BACKENDS) {
    const t = table[b];
    const pick = (x: Tolerance): Tolerance => ({
      atol: override.atol === undefined ? x.atol : checkNumber(override.atol, '--atol'),
      rtol: override.rtol === undefined ? x.rtol : checkNumber(override.rtol, '--rtol'),
    });
    out[b] = { ...pick(t), source: 'command line' };
    for (const half of HALF_DTYPES) {
      const h = t[half];
      if (h) out[b][half] = pick(h);
    }
  }
  return out;
}
