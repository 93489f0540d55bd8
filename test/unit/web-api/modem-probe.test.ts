/**
 * POST /api/modems/:name/probe through inject against a real pool on the in-process simulator:
 * session and CSRF guard it, an unknown modem is 404, and the answer is asked afresh on the port
 * the pool already has open (the simulator sees new AT+CGMM and AT+CSQ, no second open).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../firmware/src/clock.ts';
import { modemSchema } from '../../../firmware/src/config/schema.ts';
import type { ProbeReport } from '../../../firmware/src/modem/one-shot.ts';
import { ModemPool } from '../../../firmware/src/modem/pool.ts';
import { startSimulator, type ModemSimulator } from '../../../firmware/src/modem/simulator/index.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { login, testWeb, type TestWeb } from '../../helpers/web.ts';
import { PTY_TIMEOUTS, PTY_TIMINGS } from '../../support/pty-timings.ts';

describe('modem probe', () => {
  let dir: string;
  let store: Store;
  let sim: ModemSimulator;
  let pool: ModemPool;
  let web: TestWeb;
  let opens = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-probe-'));
    store = await openStore(dir);
    sim = await startSimulator({ wire: 'in-process', smsDelayMs: 20 });
    const factory = sim.transportFactory;
    if (!factory) throw new Error('no in-process transport');
    pool = new ModemPool([modemSchema.parse({ name: 'sim', path: sim.path })], store, systemClock, {
      transportFactory: (o) => {
        opens++;
        return factory(o);
      },
      timeouts: PTY_TIMEOUTS,
      timings: { ...PTY_TIMINGS, pollRegistered: 60_000 },
      retryBackoffMs: 50,
    });
    pool.start();
    await pool.whenReady(10_000);
    web = await testWeb({
      modemTest: {
        sendVia: () => Promise.reject(new Error('not in this test')),
        defaultCountry: () => 'US',
        probe: (name) => pool.probe(name),
      },
    });
  });
  afterAll(async () => {
    await web.close();
    await pool.stop();
    await sim.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const probe = (name: string, headers: Record<string, string>) =>
    web.app.inject({ method: 'POST', url: `/api/modems/${name}/probe`, headers });

  it('needs a session (401) and a CSRF token (403)', async () => {
    expect((await probe('sim', {})).statusCode).toBe(401);
    const { cookie } = await login(web.app);
    expect((await probe('sim', { cookie })).statusCode).toBe(403);
  });

  it('is 404 for a modem that is not configured', async () => {
    const { headers } = await login(web.app);
    const res = await probe('usb9', headers);
    expect(res.statusCode).toBe(404);
    expect(res.json<{ message: string }>().message).toContain('usb9');
  });

  it('asks the running modem afresh on its open port and audits it', async () => {
    const { headers } = await login(web.app);
    const cmds = (c: string) => sim.log.filter((e) => e.kind === 'cmd' && e.detail?.line === c).length;
    const before = { cgmm: cmds('AT+CGMM'), csq: cmds('AT+CSQ') };
    const opened = opens;
    const res = await probe('sim', headers);
    expect(res.statusCode).toBe(200);
    const r = res.json<ProbeReport>();
    expect(r.identity.model).toBe('SIM-LTE4');
    expect(r.identity.imei).toMatch(/^\d{15}$/);
    expect(r.sim).toBe('ready');
    expect(r.registration).toBe('registered');
    expect(r.operator).toBe('MFA Sim');
    expect(r.bars).toBeGreaterThan(0);
    expect(cmds('AT+CGMM')).toBe(before.cgmm + 1);
    expect(cmds('AT+CSQ')).toBeGreaterThan(before.csq);
    expect(opens).toBe(opened);
    expect(web.audits.at(-1)).toMatchObject({ action: 'modem-probe', actor: 'admin', outcome: 'ok' });
  });
});
