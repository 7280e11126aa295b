// Opens a day page in Debian's Chromium at a laptop's size and prints, as one JSON object,
// what a person would see: the status, the count cards, each chart's drawn bars, whether
// anything is wider than the window, and every request the page tried to make.
// Usage: node tests/browser/look-at-page.mjs PAGE.html [SCREENSHOT.png]
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [page_path, screenshot] = process.argv.slice(2);
if (!page_path) {
  console.error('usage: look-at-page.mjs PAGE.html [SCREENSHOT.png]');
  process.exit(2);
}
const width = 1366;
const height = 768;
const profile = mkdtempSync(join(tmpdir(), 'leganto-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width, height },
});
try {
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) requests.push(r.url());
  });
  const url = pathToFileURL(resolve(page_path)).href;
  await page.goto(url, { waitUntil: 'load' });
  const seen = await page.evaluate((viewport) => {
    const text = (el) => (el ? el.textContent.trim() : null);
    const cards = {};
    for (const card of document.querySelectorAll('.card')) {
      cards[card.id] = text(card.querySelector('.value'));
    }
    const charts = [...document.querySelectorAll('figure')].map((fig) => {
      const svg = fig.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      const bars = svg ? [...svg.querySelectorAll('rect.bar')] : [];
      return {
        id: fig.id,
        title: text(fig.querySelector('figcaption')),
        width: box.width,
        height: box.height,
        bars: bars.length,
        drawn: bars.filter((b) => b.getBoundingClientRect().height > 0).length,
        today: svg ? svg.querySelectorAll('rect.bar.today').length : 0,
      };
    });
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => {
        const r = el.getBoundingClientRect();
        // Inside a scrolling table the table scrolls, not the page.
        return r.right > viewport + 0.5 && !el.closest('.table');
      })
      .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
    return {
      title: document.title,
      status: text(document.getElementById('status')),
      cards,
      charts,
      scroll_width: document.documentElement.scrollWidth,
      client_width: document.documentElement.clientWidth,
      wider_than_window: wide.slice(0, 20),
      scripts: document.querySelectorAll('script').length,
      reject_rows: document.querySelectorAll('#rejects tbody tr').length,
      rollover_rows: document.querySelectorAll('#rollovers tbody tr').length,
      file_links: document.querySelectorAll('#files tbody a').length,
    };
  }, width);
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: false });
  }
  console.log(JSON.stringify({ ...seen, requests }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
