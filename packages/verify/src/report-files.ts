import { join } from 'node:path';
import { makeDirectory, UserError, writeFileAtomic } from '@gru-onnx/model';
import type { Report } from './report.ts';
import { reportToJson } from './report.ts';
import { htmlReport } from './report-html.ts';
import { markdownReport } from './report-text.ts';

/** The files writeReports produces, by format. */
export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', html: 'report.html' } as const;

/** Writes report.json, report.md and report.html into `dir` (created if needed), each atomically. */
export function writeReports(dir: string, report: Report): Record<keyof typeof REPORT_FILES, string> {
  try {
    makeDirectory(dir);
  } catch (err) {
    throw new UserError(`${dir}: cannot create the report directory (${err instanceof Error ? err.message : String(err)})`);
  }
  const paths = { json: join(dir, REPORT_FILES.json), markdown: join(dir, REPORT_FILES.markdown), html: join(dir, REPORT_FILES.html) };
  writeFileAtomic(paths.json, reportToJson(report));
  writeFileAtomic(paths.markdown, markdownReport(report));
  writeFileAtomic(paths.html, htmlReport(report));
  return paths;
}
