/**
 * The dashboard, RADIUS client editing, modems and directory pages in headless Chromium against
 * one running demo (its own process) and one real OpenLDAP (scripts/start-slapd.sh): the 24 h
 * charts and recent authentications after a radclient login, a client edited with its secret kept,
 * the modem card's last send, a Probe and a test SMS through one modem, a modem added / edited / removed live with a write-only PIN,
 * the directory switched to slapd
 * (its CA uploaded from the page) after Test connection passes, and a directory user whose name and display name are XSS payloads
 * rendered as text. Phone-sized viewport; screenshots go to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { Attribute, Change, Client } from 'ldapts';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SECRET } from '../../firmware/src/commands/run.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startDemo, type DemoProcess } from '../helpers/demo-process.ts';
import { q, radclient } from '../helpers/radclient.ts';
import { startPeer, type Peer } from '../integration/peers.ts';

const ARTIFACTS = 'test/artifacts';
const XSS_USER = '<img src=x onerror=alert("u")>';
const XSS_NAME = '<script>alert("n")</script><img src=y onerror=alert("d")>';
const PIN = '8642';

describe('config pages (Chromium, demo, slapd)', () => {
  let demo: DemoProcess;
  let slapd: Peer;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [demo, slapd, browser] = await Promise.all([
      startDemo(['--sms-ms', '200']),
      startPeer('scripts/start-slapd.sh'),
      launchChromium(),
    ]);
    // A directory user whose login and display name are markup, in the MFA group.
    const f = slapd.facts;
    const ldap = new Client({ url: f.LDAP_URL });
    try {
      await ldap.startTLS({ ca: readFileSync(f.CA_FILE, 'utf8'), servername: '127.0.0.1' });
      await ldap.bind(f.ADMIN_DN, f.ADMIN_PW);
      const dn = `cn=xss,ou=people,${f.BASE}`;
      await ldap.add(dn, {
        objectClass: 'inetOrgPerson',
        cn: 'xss',
        sn: 'xss',
        uid: XSS_USER,
        displayName: XSS_NAME,
        mobile: '+4915100000099',
      });
      await ldap.modify(
        f.GROUP_DN,
        new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) }),
      );
    } finally {
      await ldap.unbind();
    }
    page = await browser.newPage({ viewport: { width: 412, height: 915 } });
    page.on('dialog', (d) => {
      // confirm() for Remove is expected; an alert() can only come from a payload.
      if (d.type() !== 'confirm') dialogs.push(d.message());
      void d.accept();
    });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    await slapd?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  const radius = (user: string, password: string, state?: string) =>
    radclient(`127.0.0.1:${demo.radiusPort}`, DEMO_SECRET, [
      ['User-Name', q(user)],
      ['User-Password', q(password)],
      ...(state ? ([['State', state]] as [string, string][]) : []),
      ['Message-Authenticator', '0x00'],
    ]);
  /** Clicks a save button and waits for this save's "Saved", not the one still shown from before. */
  const save = async (selector: string) => {
    // A string: the test's tsconfig has no DOM types.
    await page.evaluate("document.getElementById('status').textContent = ''");
    await page.click(selector);
    await page.waitForSelector('#status.ok:has-text("Saved")', { timeout: 20_000 });
  };
  const config = () =>
    page.evaluate(async () => (await (await fetch('/api/config')).json()) as Record<string, unknown>);

  it('dashboard: 24 h charts and the recent authentications after a radclient login', async () => {
    const c = await radius('alice', 'alice-pass');
    expect(c.code).toBe('Access-Challenge');
    const code = /\b(\d{6})\b/.exec((await demo.waitForSms(1)).text)?.[1] ?? '';
    expect((await radius('alice', code, c.attributes.get('State')?.[0])).code).toBe('Access-Accept');

    await page.goto(demo.webUrl);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'demo-admin');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#chart-logins svg path.accept', { timeout: 20_000 });
    expect(await page.textContent('#chart-logins figcaption')).toMatch(/accepted: peak 0\.2 \/min/);
    expect(await page.textContent('#chart-sms figcaption')).toMatch(/peak [1-9]\d* ms/);
    const recent = await page.textContent('#recent');
    expect(recent).toContain('alice');
    expect(recent).toContain('accept');
    expect(recent).toContain('challenge');
    // The modem card says when the passcode SMS went out.
    const lastSend = (await page.textContent('.card .last-send')) ?? '';
    expect(lastSend).toMatch(/^Last send: \S/);
    expect(lastSend).not.toContain('none');
    await shot('dashboard-charts');
  }, 120_000);

  it('edits a RADIUS client and keeps its secret unless a new one is typed', async () => {
    await page.goto(`${demo.webUrl}/#radius`);
    await page.click('button[data-edit="demo-nas"]');
    expect(await page.inputValue('#client-secret')).toBe('');
    expect(await page.getAttribute('#client-secret', 'placeholder')).toContain('set');
    await page.fill('#client-address', '127.0.0.0/8');
    await page.fill('#client-attributes', 'Class = e2e-edited\nSession-Timeout = 3600');
    await save('#client-add');
    await page.waitForSelector('td:has-text("127.0.0.0/8")');
    const c = (await config()) as { config: { radius: { clients: Record<string, unknown>[] } } };
    expect(c.config.radius.clients[0]).toMatchObject({
      name: 'demo-nas',
      address: '127.0.0.0/8',
      secret: { set: true },
      acceptAttributes: [
        ['Class', 'e2e-edited'],
        ['Session-Timeout', 3600],
      ],
    });
    expect(await page.content()).not.toContain(DEMO_SECRET);
    // The kept secret still works.
    expect((await radius('bob', 'bob-pass')).code).toBe('Access-Challenge');
    await shot('radius-edit');
  }, 120_000);

  it('adds, edits and removes a modem live; the PIN is write-only', async () => {
    // bob's passcode SMS from the test before may still be going out ("sending"): wait for it.
    await demo.waitForSms(2);
    await expect
      .poll(
        async () => {
          await page.goto(`${demo.webUrl}/#modems`);
          await page.waitForSelector('td:has-text("sim0")');
          return page.textContent('tr:has(button[data-probe="sim0"])');
        },
        { timeout: 20_000 },
      )
      .toMatch(/registered/);
    // Probe asks the running simulator modem afresh: its model, SIM and operator.
    await page.click('button[data-probe="sim0"]');
    await page.waitForSelector('#status.ok:has-text("Probed sim0")', { timeout: 20_000 });
    const probed = (await page.textContent('#modem-probe')) ?? '';
    expect(probed).toContain('SIM-LTE4');
    expect(probed).toContain('SIM ready');
    expect(probed).toMatch(/Registration: registered; operator MFA Sim/);
    await shot('modem-probe');
    // A test SMS through this one modem reaches the simulator's handset.
    await page.fill('#modem-test-to', '+15550000009');
    await page.click('button[data-test-send="sim0"]');
    await page.waitForSelector('#status.ok:has-text("Test SMS sent through sim0")', { timeout: 30_000 });
    await expect
      .poll(() => demo.sms.some((m) => m.to === '+15550000009' && m.text.includes('MFA Box test message')), {
        timeout: 20_000,
      })
      .toBe(true);
    await page.fill('#modem-name', 'usb1');
    await page.fill('#modem-path', '/dev/serial/by-id/usb-e2e-not-plugged-if00');
    await page.selectOption('#modem-profile', 'quectel-ec25');
    await page.fill('#modem-pin', PIN);
    await page.fill('#modem-rate', '6');
    await save('#modem-save');
    await page.waitForSelector('button[data-edit="usb1"]');
    const row = await page.textContent('tr:has(button[data-edit="usb1"])');
    expect(row).toContain('set');
    expect(await page.content()).not.toContain(PIN);
    // Edit without retyping the PIN: it is kept.
    await page.click('button[data-edit="usb1"]');
    await page.fill('#modem-rate', '7');
    await save('#modem-save');
    const c = (await config()) as { config: { modems: Record<string, unknown>[] } };
    expect(c.config.modems).toEqual([
      expect.objectContaining({ name: 'usb1', maxPerMinute: 7, pin: { set: true }, profile: 'quectel-ec25' }),
    ]);
    await shot('modems');
    await save('button[data-remove="usb1"]');
    await page.waitForSelector('button[data-edit="usb1"]', { state: 'detached' });
    expect(((await config()) as { config: { modems: unknown[] } }).config.modems).toEqual([]);
  }, 120_000);

  it('switches the directory to slapd after Test connection passes, syncs, and shows markup names as text', async () => {
    const f = slapd.facts;
    await page.goto(`${demo.webUrl}/#directory`);
    await page.selectOption('#dir-kind', 'ldap');
    await page.selectOption('#dir-dialect', 'openldap');
    await page.fill('#dir-urls', f.LDAP_URL);
    // The CA arrives as an upload from the admin's laptop, not as a path on the box.
    await page.setInputFiles('#dir-ca-upload', f.CA_FILE);
    await page.waitForSelector('#status.ok:has-text("CA uploaded")');
    expect(await page.inputValue('#dir-ca-file')).toBe(`${demo.dataDir}/directory-ca.pem`);
    await page.fill('#dir-base-dn', f.BASE);
    await page.fill('#dir-bind-dn', f.SERVICE_DN);
    await page.fill('#dir-bind-password', f.SERVICE_PW);
    await page.fill('#dir-group', 'MFA Users');
    await page.fill('#dir-attr-display', 'displayName');
    await page.click('#dir-test');
    await page.waitForSelector('#status:has-text("Connection test")', { timeout: 30_000 });
    const steps = (await page.textContent('#dir-test-output')) ?? '';
    expect(steps).toMatch(/ok {6}TCP/);
    expect(steps).toMatch(/ok {6}TLS {5}StartTLS/);
    expect(steps).toMatch(/ok {6}bind/);
    expect(steps).toContain('1 of 1 domain controller(s) passed.');
    expect(steps).not.toContain(f.SERVICE_PW);
    await shot('directory-test');
    await save('#dir-save');
    await page.click('#sync-now');
    await page.waitForSelector('#status:has-text("Sync finished")', { timeout: 30_000 });
    if (await page.$('#sync-confirm')) {
      await page.click('#sync-confirm');
      await page.waitForSelector('#status:has-text("Sync finished")', { timeout: 30_000 });
    }
    expect(await page.textContent('#sync-state')).toMatch(/Last sync: ok/);
    expect(await page.content()).not.toContain(f.SERVICE_PW);

    await page.goto(`${demo.webUrl}/#users`);
    await page.fill('#user-search', 'onerror');
    await page.press('#user-search', 'Enter');
    await page.waitForSelector(`td:text-is(${JSON.stringify(XSS_USER)})`, { timeout: 15_000 });
    expect(await page.textContent('main')).toContain(XSS_NAME);
    // Text, not markup: no element came from the payloads and nothing ran.
    expect(await page.$$eval('main img, main script', (els) => els.length)).toBe(0);
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    await shot('users-xss');
  }, 120_000);
});
