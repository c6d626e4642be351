/**
 * Time one judgement (<OD> + <MORE_DETAILED_CAPTION> + grounding) of the judge worker on the tiny
 * Florence-2-shaped model in Chromium, on WASM and on WebGPU (SwiftShader where there is no GPU).
 * Builds the app with its harness pages into bench/output/app and writes the tiny model there.
 *
 *   npx tsx bench/judge.ts
 *
 * The tiny model's cost says nothing about the real one's (0.23B parameters, 768² images); it
 * measures the fixed overhead of the path (worker, transformers.js, session runs per token).
 */
import { launchChromium } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/browser/static-server.ts';
import { buildTestApp } from '../test/browser/global-setup.ts';
import { writeTinyFlorence } from '../tools/florence-gen/index.ts';

const dist = 'bench/output/app';
await buildTestApp(dist);
await writeTinyFlorence(`${dist}/judge-test/florence-tiny`);
const server = await serveStatic(dist, { isolation: true });
const browser = await launchChromium();
for (const device of ['wasm', 'webgpu'] as const) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url + 'test/browser/harness/judge.html');
  await page.waitForFunction(() => (window as any).harnessReady === true);
  const source = { id: `bench-${device}`, label: 'tiny', repo: 'erasure-lab/florence-2-tiny', revision: 'main' };
  const load = await page.evaluate((a) => (window as any).harness.load(a), { source, baseUrl: server.url + 'judge-test/florence-tiny/', preference: device });
  if (!load.ok) throw new Error(JSON.stringify(load.error));
  const tasks = [{ task: '<OD>', maxNewTokens: 32 }, { task: '<MORE_DETAILED_CAPTION>', maxNewTokens: 32 }, { task: '<CAPTION_TO_PHRASE_GROUNDING>', text: 'a car', maxNewTokens: 32 }];
  const runs: number[] = [];
  let tokens = 0;
  for (let i = 0; i < 5; i++) {
    const r = await page.evaluate((t) => (window as any).harness.judge(512, 512, t), tasks);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    runs.push(r.result.timings.totalMs);
    tokens = r.result.results.reduce((s: number, x: any) => s + x.tokens, 0);
  }
  runs.sort((a, b) => a - b);
  console.log(`${device}: load ${load.result.loadMs.toFixed(0)} ms, warm-up ${load.result.warmupMs.toFixed(0)} ms; judgement of a 512×512 image (3 tasks, ${tokens} tokens): median ${runs[2]!.toFixed(0)} ms (min ${runs[0]!.toFixed(0)}, max ${runs[4]!.toFixed(0)})`);
  await page.context().close();
}
await browser.close();
await server.close();
