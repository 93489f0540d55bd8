/**
 * The System page in headless Chromium against the running demo (its own process): add an admin
 * and remove it, change the admin networks and keep the change from the rollback banner,
 * download a backup, change the config, restore the backup (a wrong passphrase first), and
 * reboot (the demo prints instead of rebooting this machine). Screenshots go to test/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { startDemo, type DemoProcess } from '../helpers/demo-process.ts';

const ARTIFACTS = 'test/artifacts';
const PASSPHRASE = 'e2e backup passphrase';

describe('System page (Chromium, demo)', () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo(['--sms-ms', '200']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 412, height: 915 }, acceptDownloads: true });
    page.on('dialog', (d) => void d.accept());
    await page.goto(demo.webUrl);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'demo-admin');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#nav:not([hidden])');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  /**
   * Clicks, then waits (polling from the test side: the page's CSP forbids evaluated code) until
   * the status line changes to a match or to an error, so a failure shows its message.
   */
  const act = async (selector: string, re: RegExp): Promise<string> => {
    const before = (await page.textContent('#status')) ?? '';
    await page.click(selector);
    let text = '';
    await vi.waitFor(
      async () => {
        const cls = await page.getAttribute('#status', 'class');
        text = (await page.textContent('#status')) ?? '';
        if (text === before || (cls !== 'error' && !re.test(text))) throw new Error(`status: ${text}`);
      },
      { timeout: 30_000, interval: 200 },
    );
    return text;
  };
  const config = async (): Promise<{
    web: { adminNetworks: string[] };
    passcode?: { smsTemplate?: string };
  }> => JSON.parse(readFileSync(`${demo.dataDir}.config.json`, 'utf8')) as never;

  it('adds an admin and removes it', async () => {
    await page.goto(`${demo.webUrl}/#system`);
    await page.fill('#admin-name', 'ops');
    await page.fill('#admin-password', 'ops-first-password');
    expect(await act('#admin-add button[type=submit]', /Admin ops added/)).toContain('Admin ops added');
    await page.waitForSelector('button[data-remove-admin="ops"]');
    await shot('system-admins');
    expect(await act('button[data-remove-admin="ops"]', /Admin ops removed/)).toContain('Admin ops removed');
    await page.waitForSelector('button[data-remove-admin="ops"]', { state: 'detached' });
  });

  it('changes the admin networks and keeps the change from the rollback banner', async () => {
    await page.fill('#admin-networks', '127.0.0.0/8');
    await page.click('#access-save');
    await page.waitForSelector('#pending:not([hidden])');
    expect(await page.textContent('#pending')).toMatch(
      /web\.adminNetworks changed: it is rolled back in \d+ s/,
    );
    await shot('system-pending');
    expect(await act('#pending-keep', /Kept: web\.adminNetworks/)).toContain('Kept');
    expect((await config()).web.adminNetworks).toEqual(['127.0.0.0/8']);
  });

  it('downloads a backup and restores it after a change; a wrong passphrase changes nothing', async () => {
    await page.goto(`${demo.webUrl}/#system`);
    await page.fill('#backup-passphrase', PASSPHRASE);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#backup-download')]);
    expect(download.suggestedFilename()).toMatch(/^mfabox-.*\.mfabox-backup$/);
    const file = `${ARTIFACTS}/e2e.mfabox-backup`;
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('mfabox-demo-secret');
    expect(JSON.parse(text)).toMatchObject({ format: 'mfabox-backup', cipher: 'aes-256-gcm' });

    const before = (await config()).passcode?.smsTemplate;
    await page.goto(`${demo.webUrl}/#passcodes`);
    await page.fill('#sms-template', 'Changed after the backup: {code}');
    expect(await act('#sms-save', /Saved/)).toMatch(/Saved/);
    expect((await config()).passcode?.smsTemplate).toBe('Changed after the backup: {code}');

    await page.goto(`${demo.webUrl}/#system`);
    await page.setInputFiles('#restore-file', file);
    await page.fill('#restore-passphrase', 'not the passphrase');
    expect(await act('#restore', /Restored/)).toMatch(/passphrase is wrong/);
    expect((await config()).passcode?.smsTemplate).toBe('Changed after the backup: {code}');

    await page.setInputFiles('#restore-file', file);
    await page.fill('#restore-passphrase', PASSPHRASE);
    expect(await act('#restore', /Restored \(revision \d+\)/)).toMatch(/Restored \(revision \d+\)/);
    expect((await config()).passcode?.smsTemplate).toBe(before);
    await shot('system-restored');
  });

  it('reboots after a confirmation; the demo prints instead of rebooting this machine', async () => {
    expect(await act('#reboot', /Rebooting/)).toContain('Rebooting');
    await expect
      .poll(() => demo.stdout(), { timeout: 10_000 })
      .toContain('Demo: reboot requested on the web page');
  });
});
