/** `mfabox start` (production) and `mfabox demo` (everything on embedded defaults). */
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigFile, isJsonObject, type JsonObject } from '../config/config-file.ts';
import type { Config } from '../config/schema.ts';
import { startConfig } from '../config/start-config.ts';
import { buildId } from '../build-id.ts';
import { describeError } from '../errors.ts';
import { configureLogging, logger } from '../log.ts';
import { sdNotifier } from '../health/sd-notify.ts';
import { startAppliance, type Appliance } from '../main.ts';
import { defineCommand } from './command.ts';

/** Resolves on SIGINT/SIGTERM; a second signal exits at once. */
function untilSignal(): Promise<string> {
  return new Promise((res) => {
    const on = (sig: string): void => {
      process.once(sig, () => process.exit(130));
      res(sig);
    };
    process.once('SIGINT', () => on('SIGINT'));
    process.once('SIGTERM', () => on('SIGTERM'));
  });
}

/**
 * A long-running server must not die on one stray rejected promise (Node 20 exits on them by
 * default): log it and keep serving. An uncaught exception may have left state inconsistent,
 * so that one still exits, and systemd (Restart=always) brings the box back in seconds.
 */
function guardProcess(): void {
  const log = logger('process');
  process.on('unhandledRejection', (reason) => {
    log.error({ err: describeError(reason) }, 'unhandled promise rejection (kept running)');
  });
}

async function runUntilSignal(app: Appliance, signal = untilSignal()): Promise<number> {
  const sig = await signal;
  console.log(`\n${sig}: stopping…`);
  await app.stop();
  console.log('stopped cleanly');
  return 0;
}

/** pino's levels; MFABOX_LOG_LEVEL picks one for `start` and `demo` alike. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const logLevelOption = {
  type: 'string',
  value: 'LEVEL',
  env: 'MFABOX_LOG_LEVEL',
  choices: LOG_LEVELS,
  help: 'log level for this run',
} as const;

export const startCommand = defineCommand({
  name: 'start',
  summary: 'Run the appliance from a JSON config file (production)',
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      env: 'MFABOX_CONFIG',
      required: true,
      help: 'the config file',
    },
    'log-level': { ...logLevelOption, help: 'log level, overriding log.level in the config file' },
  },
  async run({ values }) {
    const configFile = await ConfigFile.open(resolve(values.config));
    // A restart with an unchanged file and build takes its validation from the cache directory
    // systemd gives the service (CacheDirectory=), without loading the schema (start-config.ts).
    const config = await startConfig(configFile.current(), {
      cacheDir: process.env.CACHE_DIRECTORY?.split(':')[0],
      buildId,
    });
    configureLogging({ level: values['log-level'] ?? config.log.level });
    guardProcess();
    // Under systemd (Type=notify): ready once RADIUS answers (the web page starts right after),
    // then watchdog pings from this event loop.
    const sd = sdNotifier();
    // Listening from the start: a stop that comes after READY=1 but while the web page is still
    // starting is a clean stop (STOPPING=1, store closed) once the start has finished.
    const signal = untilSignal();
    const printed = new Set<string>();
    const app = await startAppliance(config, {
      configFile,
      onReady: async ({ lines, health }) => {
        for (const line of lines) console.log(line);
        lines.forEach((l) => printed.add(l));
        await sd.ready(health().status);
        sd.startWatchdog();
      },
    }).catch((e: unknown) => {
      // The web page failed after READY=1: the process exits and systemd restarts it.
      sd.stopWatchdog();
      throw e;
    });
    for (const line of app.describe()) if (!printed.has(line)) console.log(line);
    // scripts/mfabox.mjs writes its V8 code cache now that the whole start has run (if it has none).
    (process as NodeJS.EventEmitter).emit('mfabox:started');
    const sig = signal.then(async (s) => {
      sd.stopWatchdog();
      await sd.stopping();
      return s;
    });
    return runUntilSignal(app, sig);
  },
});

/** The demo NAS's shared secret (published in README; at least 16 characters like any other). */
export const DEMO_SECRET = 'mfabox-demo-secret';
/** What earlier releases wrote into the demo config file, under today's 16-character floor. */
const OLD_DEMO_SECRET = 'demo-secret';

/** What a new demo config file holds (ports, paths and web come from the flags at each start). */
const DEMO_CONFIG: JsonObject = {
  radius: {
    clients: [
      {
        name: 'demo-nas',
        address: '127.0.0.1',
        secret: DEMO_SECRET,
        requireMessageAuthenticator: 'yes',
        monitorUser: 'mfabox-monitor',
        monitorPassword: 'mfabox-demo-monitor',
        acceptAttributes: [['Class', 'mfabox-demo']],
      },
    ],
  },
  directory: { kind: 'demo' },
  web: { tls: false },
};

/**
 * A demo config file from an earlier release holds the old 11-character demo secret, which the
 * 16-character floor now refuses: swap in the new published one so `npm run demo` still starts.
 */
async function upgradeDemoSecret(file: ConfigFile): Promise<void> {
  const doc = file.current();
  const radius = doc.radius;
  if (!isJsonObject(radius) || !Array.isArray(radius.clients)) return;
  let changed = false;
  for (const c of radius.clients)
    if (isJsonObject(c) && c.secret === OLD_DEMO_SECRET) {
      c.secret = DEMO_SECRET;
      changed = true;
    }
  if (!changed) return;
  await file.replace(file.revision(), doc);
  console.log(`Demo NAS secret changed to ${DEMO_SECRET} (at least 16 characters now)`);
}

const port = (env: string, fallback: number, help: string) =>
  ({ type: 'integer', value: 'N', min: 0, max: 65535, env, default: fallback, help }) as const;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'Run the whole appliance on embedded defaults: modem simulator, demo users, no hardware',
  details: 'Port 0 picks a free port; the ports in use are printed at start.',
  options: {
    'radius-port': port('MFABOX_RADIUS_PORT', 1812, 'RADIUS authentication port on 127.0.0.1'),
    'acct-port': port('MFABOX_ACCT_PORT', 1813, 'RADIUS accounting port on 127.0.0.1'),
    'web-port': port('MFABOX_WEB_PORT', 8080, 'web page and API port on 127.0.0.1 (plain HTTP)'),
    'data-dir': {
      type: 'string',
      value: 'DIR',
      env: 'MFABOX_DATA_DIR',
      default: './data/demo',
      help: 'where the demo keeps its store',
    },
    'sms-ms': {
      type: 'integer',
      value: 'N',
      min: 0,
      max: 600_000,
      env: 'MFABOX_SMS_MS',
      default: 3000,
      help: 'how long the simulated network takes to deliver an SMS, in ms',
    },
    'log-level': { ...logLevelOption, default: 'warn' },
  },
  async run({ values }) {
    const dataDir = resolve(values['data-dir']);
    const radiusPort = values['radius-port'];
    const acctPort = values['acct-port'];
    const webPort = values['web-port'];
    const smsMs = values['sms-ms'];
    configureLogging({ level: values['log-level'] });
    guardProcess();
    // The demo keeps its config in a file too, made at first start beside its data directory,
    // so the web page edits it like a real box's. Ports and paths come from the flags each run.
    const configPath = join(dirname(dataDir), `${basename(dataDir)}.config.json`);
    const configFile = await ConfigFile.open(configPath, { create: DEMO_CONFIG });
    await upgradeDemoSecret(configFile);
    const effective = (c: Config): Config => ({
      ...c,
      dataDir,
      // Beside the data directory like the config file, never the real box's /etc/mfabox.
      deviceKeyFile: join(dirname(dataDir), `${basename(dataDir)}.device.key`),
      radius: { ...c.radius, listen: [{ address: '127.0.0.1', port: radiusPort }], accountingPort: acctPort },
      // Plain HTTP, loopback only: nothing on the LAN can reach the demo's page.
      web: { ...c.web, address: '127.0.0.1', port: webPort, tls: false },
    });
    const [{ parseConfig }, { DEMO_ADMIN }] = await Promise.all([
      import('../config/load.ts'),
      import('../web-api/admins.ts'),
    ]);
    const config = effective(parseConfig(configFile.current()));
    const app = await startAppliance(config, {
      demo: true,
      simulator: { profile: 'generic', smsDelayMs: smsMs },
      onHandsetSms: (to, text) => console.log(`SMS to ${to}: ${text}`),
      waitForModemMs: 30_000,
      configFile,
      effective,
      demoAdmin: true,
      // The status LEDs belong to the service; a demo (even on a box) leaves them alone.
      noLeds: true,
      // A demo runs on someone's laptop or a CI machine: Reboot on its page must not reboot that.
      reboot: () => {
        console.log('Demo: reboot requested on the web page (a demo does not reboot this machine)');
        return Promise.resolve();
      },
      factoryConfig: (): JsonObject => structuredClone<JsonObject>(DEMO_CONFIG),
    });
    console.log('MFA Box demo is running.');
    for (const line of app.describe()) console.log(`  ${line}`);
    console.log(`  Web login   ${DEMO_ADMIN.username} / ${DEMO_ADMIN.password}`);
    console.log(`  Config      ${configPath}`);
    console.log(`  NAS client  127.0.0.1, secret ${DEMO_SECRET}, Message-Authenticator required`);
    console.log('  Users       alice/alice-pass (+15550000001), bob/bob-pass; see README "Demo users"');
    console.log('Press Ctrl-C to stop.');
    return runUntilSignal(app);
  },
});
