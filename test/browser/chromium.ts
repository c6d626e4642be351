import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; override with CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags from DESIGN.md: no sandbox (root), no network chatter, SwiftShader WebGPU allowed. */
export const chromiumFlags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

/** Fails loudly (never skips) when Chromium is missing, saying how to install it. */
export function assertChromium(): void {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium not found at ${chromiumPath}. The browser tests need Debian's Chromium: ` +
        `run \`apt-get update && apt-get install -y chromium\` (as root), or set CHROMIUM_PATH. ` +
        `Never use \`npx playwright install\` here: it downloads a browser and fails offline.`,
    );
  }
}

export async function launchChromium(extraFlags: string[] = []): Promise<Browser> {
  assertChromium();
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: [...chromiumFlags, ...extraFlags] });
}

/** Collect console errors and page errors, so a test can show them when it fails. */
export function recordConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  return lines;
}
