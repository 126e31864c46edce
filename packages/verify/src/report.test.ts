import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_CONFIG } from '@gru-onnx/model';
import { fakeParams, fakeRunner, signatureOnlyModel } from './fake-runner.ts';
import type { Report } from './report.ts';
import { writeReports } from './report-files.ts';
import { htmlReport } from './report-html.ts';
import { CONSOLE_WIDTH, consoleTable, markdownReport } from './report-text.ts';
import { verifyModel } from './verify.ts';
import { float32Data } from './tensor.ts';

const schema = JSON.parse(readFileSync(new URL('../../../docs/report-schema.json', import.meta.url), 'utf8')) as object;
const params = fakeParams(SEED_CONFIG, 11);
const model = signatureOnlyModel(SEED_CONFIG);

/** One report with every status: pass, fail (with NaN and a divergence), partial, unavailable, error. */
async function mixedReport(): Promise<Report> {
  return verifyModel({
    model,
    params,
    shapes: [{ batch: 1, seq: 1 }, { batch: 3, seq: 10 }, { batch: 2, seq: 40 }],
    seed: 9,
    timeoutMs: 200,
    runners: [
      fakeRunner('reference'),
      fakeRunner('ort-cpu', { versions: { 'onnxruntime-node': '1.29.0', node: process.version } }),
      fakeRunner('ort-wasm', {
        perturb: (out) => {
          const hs = out.hidden_states!;
          const T = hs.dims[1]!;
          for (let t = 5; t < T; t++) for (let j = 0; j < 16; j++) float32Data(hs)[t * 16 + j]! += 1e-6 * 1.3 ** (t - 5);
          out.h_n!.data[1] = Number.NaN;
        },
      }),
      fakeRunner('browser-webgpu', { placements: [{ node: 'gru', opType: 'GRU', ep: 'CPUExecutionProvider' }], versions: { chromium: '131.0' } }),
      fakeRunner('ort-cuda', { unavailable: 'Failed to load library libonnxruntime_providers_shared.so' }),
      fakeRunner('browser-wasm', { hang: true }),
    ],
  });
}

describe('reports', () => {
  let report: Report;
  beforeAll(async () => {
    report = await mixedReport();
  });

  it('the JSON report validates against docs/report-schema.json', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/ } });
    const validate = ajv.compile(schema);
    const doc: unknown = JSON.parse(JSON.stringify(report));
    expect(validate(doc), ajv.errorsText(validate.errors)).toBe(true);
    expect(report.backends.map((b) => b.status)).toEqual(['pass', 'pass', 'fail', 'partial', 'unavailable', 'error']);
    // The schema is strict enough to catch a drifting field.
    const broken = JSON.parse(JSON.stringify(report)) as { backends: { status: string }[] };
    broken.backends[0]!.status = 'ok';
    expect(validate(broken)).toBe(false);
  });

  it('the console table gives backend × shape with status and max abs error', () => {
    const t = consoleTable(report);
    const header = t.split('\n')[1]!;
    expect(header).toMatch(/^backend\s+status\s+max abs\s+1x1\s+3x10\s+2x40\s+zeros 3x64\s+saturating 3x64$/);
    expect(t).toMatch(/\nort-wasm\s+fail\s+\S+\s+fail \S+ NaN/);
    expect(t).toMatch(/browser-wasm: error: 1x1: run timed out: no answer within 200 ms/);
    expect(t).toMatch(/ort-cuda: unavailable: Failed to load library/);
    expect(t).toMatch(/FAIL \(exit 1\)/);
  });

  it('stays readable with many cases: columns wrap into blocks within CONSOLE_WIDTH, each repeating the backend', () => {
    const many = JSON.parse(JSON.stringify(report)) as Report;
    const extra = Array.from({ length: 40 }, (_, i) => `case ${i}`);
    many.cases = extra.map((id) => ({ id, kind: 'user', inputs: [] }));
    for (const b of many.backends) b.cases = b.cases.length > 0 ? extra.map((id, i) => ({ ...b.cases[i % b.cases.length]!, id })) : [];
    const t = consoleTable(many);
    const lines = t.split('\n').filter((l) => !/^(max abs error|FAIL|PASS)/.test(l) && !/: (unavailable|error|fail)/.test(l));
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(CONSOLE_WIDTH);
    for (const id of extra) expect(t).toContain(id);
    const blocks = t.split('\n').filter((l) => l.startsWith('backend'));
    expect(blocks.length).toBeGreaterThan(3);
    expect(t.split('\n').filter((l) => l.startsWith('ort-wasm ')).length).toBe(blocks.length);
  });

  it('prints a long explanation shared by several backends once', () => {
    const twice = JSON.parse(JSON.stringify(report)) as Report;
    const why = 'Chromium is not installed at /usr/bin/chromium (a long explanation of how to get it) '.repeat(3);
    for (const b of twice.backends.filter((x) => x.name === 'browser-wasm' || x.name === 'browser-webgpu')) Object.assign(b, { status: 'unavailable', reason: why, enable: 'apt-get install chromium', cases: [] });
    const t = consoleTable(twice);
    expect(t.split(why).length - 1).toBe(1);
    expect(t).toContain(`browser-webgpu, browser-wasm: unavailable: ${why}`);
  });

  it('Markdown has the table, versions and the first divergence', () => {
    const md = markdownReport(report);
    expect(md).toMatch(/^# gru-onnx verification report/);
    expect(md).toContain('| ort-cpu ');
    expect(md).toContain('onnxruntime-node 1.29.0');
    expect(md).toMatch(/- ort-wasm, 2x40: batch 0, step \d+, unit 0/);
  });

  it('writes report.json, report.md and report.html atomically, leaving no temporary files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-'));
    try {
      const paths = writeReports(join(dir, 'out'), report);
      expect(readdirSync(join(dir, 'out')).sort()).toEqual(['report.html', 'report.json', 'report.md']);
      expect(JSON.parse(readFileSync(paths.json, 'utf8'))).toMatchObject({ schemaVersion: 1, input: { seed: 9 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the HTML page is self-contained: no scripts, no external URLs', () => {
    const html = htmlReport(report);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html).not.toMatch(/<link/i);
  });

  describe('in headless Chromium', () => {
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('renders, with a histogram per backend that ran and a per-step line per backend', async () => {
      const page = await browser!.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.setContent(htmlReport(report), { waitUntil: 'load' });
      expect(await page.title()).toBe('gru-onnx verification report');
      const hist = await page.$$eval('svg.histogram', (els) => els.map((e) => ({ backend: e.getAttribute('data-backend'), total: Number(e.getAttribute('data-total')), bars: e.querySelectorAll('rect.bar').length, box: e.getBoundingClientRect().width })));
      expect(hist.map((h) => h.backend)).toEqual(['reference', 'ort-cpu', 'ort-wasm', 'browser-webgpu']);
      for (const h of hist) {
        expect(h.total).toBeGreaterThan(0);
        expect(h.bars).toBe(report.comparison.histogramBins.length);
        expect(h.box).toBeGreaterThan(100);
      }
      const drawn = await page.$$eval('svg.histogram rect.bar', (els) => els.filter((e) => Number(e.getAttribute('height')) > 0).length);
      expect(drawn).toBeGreaterThan(4);
      const series = await page.$$eval('svg.steps polyline.series', (els) => els.map((e) => ({ backend: e.getAttribute('data-backend'), points: Number(e.getAttribute('data-points')) })));
      expect(series).toContainEqual({ backend: 'ort-wasm', points: 64 });
      expect(series).toHaveLength(4);
      // Lines that lie on top of each other are still told apart: each has its own dash pattern; atol is drawn.
      const dashes = await page.$$eval('svg.steps polyline.series', (els) => els.map((e) => e.getAttribute('stroke-dasharray')));
      expect(new Set(dashes).size).toBe(4);
      const atols = await page.$$eval('svg.steps line.tolerance', (els) => els.map((e) => Number(e.getAttribute('data-atol'))));
      expect(atols.sort()).toEqual([...new Set(report.backends.filter((b) => b.cases.some((c) => c.steps)).map((b) => b.tolerance.atol))].sort());
      expect(requests.filter((u) => !u.startsWith('about:') && !u.startsWith('data:'))).toEqual([]);
      await page.close();
    });
  });
});
