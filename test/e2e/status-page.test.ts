/** The status page in headless Chromium: it renders the health model and shows no secret. */
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../firmware/src/health/health.ts';
import { takeSnapshot } from '../../firmware/src/health/health.ts';
import { buildApp } from '../../firmware/src/web-api/app.ts';
import { launchChromium } from '../helpers/chromium.ts';

let modemState: 'registered' | 'pin-rejected' = 'registered';
function health(): HealthSnapshot {
  return takeSnapshot({
    modems: () => [
      {
        name: 'sim0',
        state: modemState,
        ...(modemState === 'pin-rejected' ? { detail: 'PIN rejected: 2 tries left, not retried' } : {}),
        bars: 4,
        dbm: -71,
        operator: 'Demo Net <script>alert(1)</script>',
        sentCount: 7,
        failedCount: 1,
      },
    ],
    directory: () => ({ state: 'up', server: 'demo (in memory)' }),
    storeWritable: () => true,
    radius: () => ({
      listening: ['udp 127.0.0.1:1812'],
      clientsWithoutMessageAuthenticator: [],
      counters: {},
    }),
    outbox: () => ({ queued: 0, inFlight: 0, sent: 7, failed: 1, expired: 0, oldestQueuedAgeMs: null }),
  });
}

describe('status page (Chromium)', () => {
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;
  beforeAll(async () => {
    app = await buildApp({ health });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('shows modem state, signal and the overall status, with API text never run as HTML', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(url);
    await page.waitForSelector('#status.ok');
    expect(await page.textContent('#status')).toBe('ok');
    const modems = await page.textContent('#modems');
    expect(modems).toContain('sim0');
    expect(modems).toContain('4/5 (-71 dBm)');
    expect(modems).toContain('<script>alert(1)</script>');
    expect(dialogs).toEqual([]);

    modemState = 'pin-rejected';
    await page.waitForSelector('#status.down', { timeout: 5000 });
    expect(await page.textContent('#problems')).toContain('PIN rejected');
    await page.close();
  });

  it('serves the page as UTF-8 HTML with a restrictive CSP and no caching', async () => {
    const res = await app.inject({ url: '/' });
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(String(res.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
  });
});
