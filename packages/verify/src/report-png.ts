/** Flags for rendering a static page: no GPU, no network side traffic, no first-run UI. */
export const RENDER_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Renders an HTML report in headless Chromium and returns a full-page PNG (for the README's picture). The browser
 * is closed whatever happens.
 */
export async function renderHtmlToPng(html: string, options: { chromiumPath?: string; width?: number } = {}): Promise<Uint8Array> {
  // Imported here so that importing @gru-onnx/verify does not load playwright.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: options.chromiumPath ?? process.env.GRU_ONNX_CHROMIUM ?? '/usr/bin/chromium', args: RENDER_CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1180, height: 900 } });
    await page.setContent(html, { waitUntil: 'load' });
    return await page.screenshot({ fullPage: true });
  } finally {
    await browser.close();
  }
}
