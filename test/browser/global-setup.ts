import { build } from 'vite';
import { readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { assertChromium } from './chromium.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

/**
 * Where this run's build of the app goes: not dist/ (a dev build stays untouched), and one folder
 * per run, so two browser test runs at once never delete each other's files.
 */
export const testDist = resolve(`test/output/dist-${process.pid}`);

let servers: StaticServer[] = [];

/**
 * Build the app plus the harness pages (test/browser/harness/*.html), which put src/lib modules
 * on `window` so library code can be tested in the real browser on the app's own origin.
 */
export async function buildTestApp(outDir: string): Promise<void> {
  const harnessDir = resolve('test/browser/harness');
  const input: Record<string, string> = { main: resolve('index.html') };
  for (const f of readdirSync(harnessDir).filter((f) => f.endsWith('.html'))) {
    input[`harness-${f.replace(/\.html$/, '')}`] = resolve(harnessDir, f);
  }
  await build({
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, sourcemap: true, rollupOptions: { input } },
  });
}

/**
 * Build the app once, then serve it twice on loopback: with COOP/COEP headers (like `vite
 * preview` or a configured host) and without (a plain static host, where the service worker must
 * supply isolation). The URLs reach tests through `inject('isolatedUrl' | 'plainUrl')`.
 */
export default async function setup(project: TestProject) {
  assertChromium();
  rmSync(testDist, { recursive: true, force: true });
  await buildTestApp(testDist);
  const isolated = await serveStatic(testDist, { isolation: true });
  const plain = await serveStatic(testDist, { isolation: false });
  servers = [isolated, plain];
  project.provide('isolatedUrl', isolated.url);
  project.provide('plainUrl', plain.url);
  project.provide('distDir', testDist);
  return async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(testDist, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    isolatedUrl: string;
    plainUrl: string;
    distDir: string;
  }
}
