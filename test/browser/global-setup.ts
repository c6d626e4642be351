import { build } from 'vite';
import { readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { assertChromium } from './chromium.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

/** Where the browser tests' build of the app goes (not dist/, so a dev build is untouched). */
export const testDist = resolve('test/output/dist');

let servers: StaticServer[] = [];

/**
 * Build the app once, then serve it twice on loopback: with COOP/COEP headers (like `vite
 * preview` or a configured host) and without (a plain static host, where the service worker must
 * supply isolation). The URLs reach tests through `inject('isolatedUrl' | 'plainUrl')`.
 */
export default async function setup(project: TestProject) {
  assertChromium();
  rmSync(testDist, { recursive: true, force: true });
  // The app plus the harness pages (test/browser/harness/*.html), which put src/lib modules on
  // `window` so library code can be tested in the real browser on the app's own origin.
  const harnessDir = resolve('test/browser/harness');
  const input: Record<string, string> = { main: resolve('index.html') };
  for (const f of readdirSync(harnessDir).filter((f) => f.endsWith('.html'))) {
    input[`harness-${f.replace(/\.html$/, '')}`] = resolve(harnessDir, f);
  }
  await build({
    logLevel: 'warn',
    build: { outDir: testDist, emptyOutDir: true, sourcemap: true, rollupOptions: { input } },
  });
  const isolated = await serveStatic(testDist, { isolation: true });
  const plain = await serveStatic(testDist, { isolation: false });
  servers = [isolated, plain];
  project.provide('isolatedUrl', isolated.url);
  project.provide('plainUrl', plain.url);
  project.provide('distDir', testDist);
  return async () => {
    await Promise.all(servers.map((s) => s.close()));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    isolatedUrl: string;
    plainUrl: string;
    distDir: string;
  }
}
