/**
 * The judge in the playground, in Chromium on WASM: the grid is rendered by the built-in tiny SD
 * model, and the judge is a tiny Florence-2-shaped model (tools/florence-gen) served by the test
 * server and named with `?judge=`. Its text is noise, so what is checked is the mechanics: the app
 * asks before downloading, every cell gets a badge per concept with a verdict and evidence, the
 * totals add up to the judged cells, a correction changes the shown verdict and the agreement
 * report, and all of it survives a reload. A folder on another origin is refused.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, recordConsole } from './chromium.ts';
import { writeTinyFlorence } from '../../tools/florence-gen/index.ts';
import { encodeShareHash } from '../../src/app/share.ts';
import { defaultState, type PlaygroundState } from '../../src/app/state.ts';

let browser: Browser;
beforeAll(async () => {
  writeTinyFlorence(join(inject('distDir'), 'judge-test', 'florence-pg'));
  browser = await launchChromium();
  mkdirSync('test/output/playground', { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

const state: PlaygroundState = {
  ...defaultState(),
  prompts: [
    { text: 'a photo of a car', relation: 'self' },
    { text: 'a photo of a bus', relation: 'neighbour' },
    { text: 'a wooden bench and a bird', relation: 'custom' },
  ],
  seeds: [5],
  steps: 2,
  guidance: 1,
  engine: 'wasm',
};
// Badges per cell: 'car' row: car (erased and the row's concept); 'bus' row: car and bus; the
// two-object row: car and its last object, bird.
const BADGES = { 'a photo of a car': ['car'], 'a photo of a bus': ['car', 'bus'], 'a wooden bench and a bird': ['car', 'bird'] } as Record<string, string[]>;

interface BadgeInfo {
  prompt: string;
  edited: string;
  concept: string;
  verdict: string;
  judge: string;
  corrected: string;
  evidence: string[];
}
const badges = (page: Page): Promise<BadgeInfo[]> =>
  page.locator('[data-testid=cell]').evaluateAll((cells) =>
    cells.flatMap((cell) =>
      [...cell.querySelectorAll<HTMLElement>('[data-testid=judge-badge]')].map((b) => ({
        prompt: (cell as HTMLElement).dataset.prompt!,
        edited: (cell as HTMLElement).dataset.edited!,
        concept: b.dataset.concept!,
        verdict: b.dataset.verdict!,
        judge: b.dataset.judgeVerdict!,
        corrected: b.dataset.corrected!,
        evidence: [...b.parentElement!.querySelectorAll('[data-testid=judge-evidence] li')].map((li) => li.textContent!.trim()),
      })),
    ),
  );
const totals = (page: Page) =>
  page.getByTestId('judge-total').evaluateAll((tds) => tds.map((td) => ({ ...(td as HTMLElement).dataset })));
const agreementRow = async (page: Page, concept: string) => {
  const row = page.locator(`[data-testid=agreement-row][data-concept="${concept}"]`);
  return { count: Number(await row.getAttribute('data-count')), agree: Number(await row.getAttribute('data-agree')) };
};

describe('the judge in the compare grid', () => {
  it('asks, loads, badges every image with evidence; totals add up; corrections change the report and survive a reload', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    const log = recordConsole(page);
    await page.goto(`${inject('isolatedUrl')}?judge=judge-test/florence-pg/#${await encodeShareHash(state)}`);
    await page.getByTestId('grid-progress').filter({ hasText: '6 of 6 images' }).waitFor({ timeout: 150_000 });

    // Asks before downloading, naming where the model comes from.
    await page.getByRole('button', { name: 'Judge the images' }).click();
    expect(await page.getByTestId('judge-consent').textContent()).toMatch(/judge-test\/florence-pg\/.*into this browser's storage/);
    await page.getByRole('button', { name: 'Download and judge' }).click();
    await page.getByTestId('judge-status').filter({ hasText: /Judge ready on WASM/ }).waitFor({ timeout: 120_000 }).catch(async () => {
      throw new Error(`judge did not load: ${await page.getByTestId('judge-panel').textContent()}\n${log.join('\n')}`);
    });

    // Every cell gets its badges, each with a verdict and evidence.
    await expect.poll(async () => (await badges(page)).length, { timeout: 180_000, interval: 1000 }).toBe(10);
    const all = await badges(page);
    for (const cell of Object.keys(BADGES)) {
      for (const edited of ['false', 'true']) {
        expect(all.filter((b) => b.prompt === cell && b.edited === edited).map((b) => b.concept)).toEqual(BADGES[cell]);
      }
    }
    for (const b of all) {
      expect(['present', 'absent', 'unsure']).toContain(b.verdict);
      expect(b.verdict).toBe(b.judge);
      expect(b.corrected).toBe('false');
      expect(b.evidence.length).toBeGreaterThan(0);
      if (b.verdict === 'absent') expect(b.evidence.at(-1)).toMatch(new RegExp(`No detected label or caption word names ${b.concept}`));
    }

    // Totals: per concept the judged cells, and rows and columns each add up to them.
    const t = await totals(page);
    const all4 = (concept: string) => t.find((x) => x.scope === 'all' && x.concept === concept)!;
    expect(Number(all4('car').total)).toBe(6);
    expect(Number(all4('bus').total)).toBe(2);
    expect(Number(all4('bird').total)).toBe(2);
    for (const concept of ['car', 'bus', 'bird']) {
      const a = all4(concept);
      expect(Number(a.present) + Number(a.absent) + Number(a.unsure)).toBe(Number(a.total));
      expect(Number(a.present)).toBe(all.filter((b) => b.concept === concept && b.verdict === 'present').length);
      for (const scope of ['row', 'col']) {
        expect(t.filter((x) => x.scope === scope && x.concept === concept).reduce((s, x) => s + Number(x.total), 0)).toBe(Number(a.total));
      }
    }
    expect(await page.getByTestId('agreement-empty').isVisible()).toBe(true);

    // Evidence shows on focus; a correction (by keyboard) changes the shown verdict and the report.
    const first = page.locator('[data-testid=cell][data-prompt="a photo of a bus"][data-edited=true] [data-testid=judge-badge][data-concept=bus]');
    const judged = (await first.getAttribute('data-verdict'))!;
    await first.focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Shift+Tab');
    expect(await page.locator('[data-testid=cell][data-prompt="a photo of a bus"][data-edited=true] [role=tooltip]').last().isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    const opposite = judged === 'present' ? 'Absent' : 'Present';
    await page.getByRole('group', { name: 'Correct bus' }).getByRole('button', { name: opposite }).click();
    expect(await first.getAttribute('data-verdict')).toBe(opposite.toLowerCase());
    expect(await first.getAttribute('data-corrected')).toBe('true');
    expect(await agreementRow(page, 'bus')).toEqual({ count: 1, agree: 0 });
    // Confirm a judge's present/absent verdict elsewhere: agreement counts it.
    const second = page.locator('[data-testid=cell][data-prompt="a photo of a car"][data-edited=false] [data-testid=judge-badge][data-concept=car]');
    const secondJudge = (await second.getAttribute('data-verdict'))!;
    await second.click();
    await page.getByRole('group', { name: 'Correct car' }).getByRole('button', { name: secondJudge === 'absent' ? 'Absent' : 'Present' }).click();
    const agreeCar = secondJudge === 'unsure' ? 0 : 1; // 'unsure' never agrees
    expect(await agreementRow(page, 'car')).toEqual({ count: 1, agree: agreeCar });
    expect(await agreementRow(page, 'overall')).toEqual({ count: 2, agree: agreeCar });
    // Totals follow the shown (corrected) verdicts.
    const bus = (await totals(page)).find((x) => x.scope === 'all' && x.concept === 'bus')!;
    expect(Number(bus.present)).toBe((await badges(page)).filter((b) => b.concept === 'bus' && b.verdict === 'present').length);
    writeFileSync('test/output/playground/judge.png', await page.screenshot({ fullPage: true }));

    // Leakage for the two-object prompt: boxes per grounded object and a row per prompt attribute.
    await page.getByRole('button', { name: /Enlarge: a wooden bench and a bird — seed 5 — erased/ }).click();
    const dialog = page.getByTestId('image-dialog');
    await dialog.getByRole('button', { name: 'Where did the attributes go?' }).click();
    await expect.poll(() => dialog.getByTestId('leakage-view').count(), { timeout: 120_000 }).toBe(2);
    for (let i = 0; i < 2; i++) {
      const view = dialog.getByTestId('leakage-view').nth(i);
      const stated = (await view.locator('figcaption').textContent())!.match(/boxes: bench (\d+), bird (\d+)/)!;
      expect(await view.locator('[data-testid=leakage-box][data-object=bench]').count()).toBe(Number(stated[1]));
      expect(await view.locator('[data-testid=leakage-box][data-object=bird]').count()).toBe(Number(stated[2]));
      const rows = view.getByTestId('leakage-row');
      expect(await rows.count()).toBe(1); // "wooden", given to the bench
      expect(await rows.first().textContent()).toMatch(/^wooden\s*bench/);
      expect(['kept', 'leaked', 'shared', 'elsewhere', 'missing']).toContain(await rows.first().getAttribute('data-status'));
    }
    await page.keyboard.press('Escape');

    // Reload: images, badges, corrections and the report come back from storage (judge not reloaded).
    await page.reload();
    await expect.poll(async () => (await badges(page)).length, { timeout: 60_000 }).toBe(10);
    expect(await first.getAttribute('data-verdict')).toBe(opposite.toLowerCase());
    expect(await first.getAttribute('data-corrected')).toBe('true');
    expect(await agreementRow(page, 'overall')).toEqual({ count: 2, agree: agreeCar });
    expect(await page.getByRole('button', { name: 'Judge the images' }).isVisible()).toBe(true);
    // Undo a correction: back to the judge's verdict.
    await first.click();
    await page.getByRole('group', { name: 'Correct bus' }).getByRole('button', { name: "Judge's verdict" }).click();
    expect(await first.getAttribute('data-verdict')).toBe(judged);
    expect(await agreementRow(page, 'overall')).toEqual({ count: 1, agree: agreeCar });
    expect(log.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    await page.context().close();
  });

  it('refuses a judge folder on another origin', async () => {
    const page = await browser.newPage();
    await page.goto(`${inject('isolatedUrl')}?judge=${encodeURIComponent('https://example.com/florence/')}`);
    const alert = page.getByTestId('judge-error');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/must be on the same origin as the page/);
    expect(await page.getByRole('button', { name: 'Judge the images' }).count()).toBe(0);
    await page.close();
  });
});
