/**
 * The config page in headless Chromium against the running demo (its own process, real radclient
 * and the modem simulator): log in, replace the RADIUS client and log in through the new one with
 * no restart, a test SMS in the simulator's inbox, a new SMS template in the next passcode, a
 * directory sync, an XSS payload rendered inert, log out. Screenshots go to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { startDemo, type DemoProcess } from '../helpers/demo-process.ts';
import { q, radclient } from '../helpers/radclient.ts';

const ARTIFACTS = 'test/artifacts';
const NEW_SECRET = 'e2e-secret-0123456789';

describe('config page (Chromium, demo)', () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo(['--sms-ms', '200']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 412, height: 915 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  const login = (secret: string, user = 'alice', password = 'alice-pass') =>
    radclient(`127.0.0.1:${demo.radiusPort}`, secret, [
      ['User-Name', q(user)],
      ['User-Password', q(password)],
      ['Message-Authenticator', '0x00'],
    ]);

  it('logs in with the keyboard and shows the dashboard', async () => {
    await page.goto(demo.webUrl);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'demo-admin');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#health.ok', { timeout: 15_000 });
    await shot('dashboard');
  });

  it('replaces the RADIUS client live; radclient logs in through the new one, the old secret is dropped', async () => {
    await page.goto(`${demo.webUrl}/#radius`);
    await page.waitForSelector('text=demo-nas');
    await page.click('button:has-text("Delete")');
    await page.waitForSelector('text=Saved (revision 2)');
    await page.fill('#client-name', 'ns-e2e');
    await page.fill('#client-address', '127.0.0.1');
    await page.fill('#client-secret', NEW_SECRET);
    await page.selectOption('#client-ma', 'yes');
    await page.click('#client-add');
    await page.waitForSelector('text=Saved (revision 3)');
    await page.click('summary:has-text("ns-e2e")');
    const cli = await page.textContent('pre.cli');
    expect(cli).toContain('add authentication radiusAction mfabox_ns-e2e');
    expect(cli).toContain('-respCode 3');
    expect(cli).toContain('save ns config');
    expect(await page.content()).not.toContain(NEW_SECRET);
    await shot('radius-clients');
    expect((await login(NEW_SECRET)).code).toBe('Access-Challenge');
    expect((await login('mfabox-demo-secret')).code).toBeUndefined();
    await demo.waitForSms(1);
  });

  it('sends a test SMS that reaches the simulator inbox', async () => {
    await page.goto(`${demo.webUrl}/#users`);
    await page.click('button[data-user="alice"]');
    // Either outcome ends the wait, so a failed send shows its message instead of a bare timeout.
    await vi.waitFor(
      async () => {
        const cls = await page.getAttribute('#status', 'class');
        const text = (await page.textContent('#status')) ?? '';
        if (cls !== 'error' && !text.includes('Test SMS sent to alice')) throw new Error(`status: ${text}`);
      },
      { timeout: 50_000, interval: 250 },
    );
    expect(await page.textContent('#status')).toContain('Test SMS sent to alice');
    const sms = await demo.waitForSms(2, 30_000);
    expect(sms.text).toContain('MFA Box test message');
    await shot('users');
  }, 90_000);

  it('changes the SMS template, and the next passcode SMS uses it', async () => {
    await page.goto(`${demo.webUrl}/#passcodes`);
    await page.fill('#sms-template', 'E2E code {code} <img src=x onerror=alert(1)>');
    expect(await page.textContent('#sms-preview')).toMatch(/GSM 7-bit, \d+ characters, 1 SMS part/);
    await page.click('#sms-save');
    await page.waitForSelector('text=Saved (revision 4)');
    await shot('passcodes');
    expect((await login(NEW_SECRET, 'bob', 'bob-pass')).code).toBe('Access-Challenge');
    const sms = await demo.waitForSms(3);
    expect(sms.text).toMatch(/^E2E code \d{6} <img src=x onerror=alert\(1\)>$/);
    await page.reload();
    await page.waitForSelector('#sms-preview');
    expect(dialogs.filter((d) => d === '1')).toEqual([]);
  });

  it('runs a directory sync', async () => {
    await page.goto(`${demo.webUrl}/#directory`);
    await page.click('#sync-now');
    await page.waitForSelector('text=Sync finished');
    expect(await page.textContent('#sync-state')).toMatch(/Last sync: (ok|needs-confirmation)/);
  });

  it('logs out: the API refuses the old session', async () => {
    await page.click('#logout');
    await page.waitForSelector('#username');
    const res = await page.evaluate(async () => (await fetch('/api/config')).status);
    expect(res).toBe(401);
  });
});
