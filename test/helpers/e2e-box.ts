/**
 * What the radclient end-to-end tests share: the appliance started in process on ephemeral
 * loopback ports with the modem simulator, the config file the `mfabox` command reads beside it,
 * and radclient playing the NetScaler (step 1, step 2, the Reply-Message).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { startAppliance, type Appliance, type ApplianceOptions } from '../../firmware/src/main.ts';
import { q, radclient, type RadclientReply } from './radclient.ts';

export type RawConfig = Record<string, unknown>;

/**
 * A config in `dir` with RADIUS and the web on ephemeral loopback ports (plain HTTP, so the CLI
 * reaches the service's local API) and one NAS that must sign its requests; `over` replaces
 * whole top-level sections, `client` adds to or changes the NAS's entry.
 */
export function e2eConfig(
  dir: string,
  secret: string,
  over: RawConfig = {},
  client: RawConfig = {},
): RawConfig {
  return {
    dataDir: join(dir, 'data'),
    deviceKeyFile: join(dir, 'device.key'),
    radius: {
      listen: [{ address: '127.0.0.1', port: 0 }],
      accountingPort: 0,
      clients: [
        { name: 'netscaler', address: '127.0.0.1', secret, requireMessageAuthenticator: 'yes', ...client },
      ],
    },
    web: { address: '127.0.0.1', port: 0, tls: false },
    log: { level: 'warn' },
    ...over,
  };
}

export interface HandsetSms {
  to: string;
  text: string;
}

/**
 * Starts the box with the simulated modem ready (its SIM asks for `pin` when given); every SMS
 * its handset receives lands in `sms`.
 */
export function startE2eBox(
  raw: RawConfig,
  opts: Omit<ApplianceOptions, 'onHandsetSms'> & { sms?: HandsetSms[]; pin?: string } = {},
): Promise<Appliance> {
  const { sms, pin, ...rest } = opts;
  return startAppliance(parseConfig(raw), {
    simulator: { profile: 'generic', smsDelayMs: 50, ...(pin === undefined ? {} : { pin }) },
    ...(sms ? { onHandsetSms: (to: string, text: string) => void sms.push({ to, text }) } : {}),
    waitForModemMs: 20_000,
    ...rest,
  });
}

/** The config the command reads: the service's, with the web port it got. */
export async function writeCliConfig(file: string, raw: RawConfig, app: Appliance): Promise<void> {
  const web = raw.web as RawConfig;
  await writeFile(file, JSON.stringify({ ...raw, web: { ...web, port: Number(new URL(app.webUrl).port) } }));
}

/**
 * radclient as the NetScaler for the box behind `port` (read at each call: the box may restart).
 * @param o.ip the end user's address (Calling-Station-Id) of step 1
 * @param o.timeoutSeconds radclient's wait for a reply; a test of a dropped request lowers it
 */
export function nas(port: () => number, secret: string, o: { ip?: string; timeoutSeconds?: number } = {}) {
  const send = (lines: [string, string][], sharedSecret = secret): Promise<RadclientReply> =>
    radclient(`127.0.0.1:${port()}`, sharedSecret, [...lines, ['Message-Authenticator', '0x00']], {
      timeoutSeconds: o.timeoutSeconds ?? 5,
    });
  return {
    send,
    /** Step 1: the directory password. */
    login: (user: string, password: string, ip = o.ip ?? '198.51.100.20') =>
      send([
        ['User-Name', q(user)],
        ['User-Password', q(password)],
        ['Calling-Station-Id', q(ip)],
      ]),
    /** Step 2: the answer to a challenge, with its State. */
    answer: (user: string, challenge: RadclientReply, text: string) =>
      send([
        ['User-Name', q(user)],
        ['User-Password', q(text)],
        ['State', challenge.attributes.get('State')?.[0] ?? '0x00'],
      ]),
    said: (r: RadclientReply): string => (r.attributes.get('Reply-Message') ?? []).join(' '),
  };
}

/** Polls `f` every 50 ms until it gives a value (20 s at most: a loaded CI machine is slow). */
export async function waitFor<T>(what: string, f: () => T | undefined, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
