/** `mfabox start` (production) and `mfabox demo` (everything on embedded defaults). */
import { resolve } from 'node:path';
import { loadConfigFile, parseConfig } from '../config/load.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { configureLogging, logger } from '../log.ts';
import { sdNotifier } from '../health/sd-notify.ts';
import { startAppliance, type Appliance } from '../main.ts';
import { parseFlags, type Command } from './command.ts';

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

function intFlag(flags: Map<string, string | true>, name: string, env: string, fallback: number): number {
  const raw = flags.get(name) ?? process.env[env];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new MfaError(
      `--${name} (or ${env}) must be an integer 0–65535, got ${String(raw)}`,
      ErrorCode.CliUsage,
      {
        field: name,
      },
    );
  return n;
}

export const startCommand: Command = {
  name: 'start',
  usage: 'start --config FILE',
  summary: 'run the appliance from a JSON config file (production)',
  async run(args) {
    const { flags } = parseFlags(args);
    const file = flags.get('config') ?? process.env.MFABOX_CONFIG;
    if (typeof file !== 'string')
      throw new MfaError('start needs --config FILE', ErrorCode.CliUsage, { field: 'config' });
    const config = await loadConfigFile(file);
    configureLogging({ level: config.log.level });
    guardProcess();
    const app = await startAppliance(config);
    for (const line of app.describe()) console.log(line);
    // Under systemd (Type=notify): ready now, then watchdog pings from this event loop.
    const sd = sdNotifier();
    await sd.ready(app.health().status);
    sd.startWatchdog();
    const sig = untilSignal().then(async (s) => {
      sd.stopWatchdog();
      await sd.stopping();
      return s;
    });
    return runUntilSignal(app, sig);
  },
};

export const demoCommand: Command = {
  name: 'demo',
  usage: 'demo [--radius-port N] [--acct-port N] [--web-port N] [--data-dir DIR] [--sms-ms N]',
  summary: 'run the whole appliance on embedded defaults: modem simulator, demo users, no hardware',
  async run(args) {
    const { flags } = parseFlags(args);
    const dataDir = resolve(String(flags.get('data-dir') ?? process.env.MFABOX_DATA_DIR ?? './data/demo'));
    const radiusPort = intFlag(flags, 'radius-port', 'MFABOX_RADIUS_PORT', 1812);
    const acctPort = intFlag(flags, 'acct-port', 'MFABOX_ACCT_PORT', 1813);
    const webPort = intFlag(flags, 'web-port', 'MFABOX_WEB_PORT', 8080);
    const smsMs = intFlag(flags, 'sms-ms', 'MFABOX_SMS_MS', 3000);
    configureLogging({ level: process.env.MFABOX_LOG_LEVEL ?? 'warn' });
    guardProcess();
    const config = parseConfig({
      dataDir,
      radius: {
        listen: [{ address: '127.0.0.1', port: radiusPort }],
        accountingPort: acctPort,
        clients: [
          {
            name: 'demo-nas',
            address: '127.0.0.1',
            secret: 'demo-secret',
            requireMessageAuthenticator: 'yes',
            monitorUser: 'mfabox-monitor',
            monitorPassword: 'monitor-pass',
            acceptAttributes: [['Class', 'mfabox-demo']],
          },
        ],
      },
      directory: { kind: 'demo' },
      web: { address: '127.0.0.1', port: webPort },
    });
    const app = await startAppliance(config, {
      simulator: { profile: 'generic', smsDelayMs: smsMs },
      onHandsetSms: (to, text) => console.log(`SMS to ${to}: ${text}`),
      waitForModemMs: 30_000,
    });
    console.log('MFA Box demo is running.');
    for (const line of app.describe()) console.log(`  ${line}`);
    console.log('  NAS client  127.0.0.1, secret demo-secret, Message-Authenticator required');
    console.log('  Users       alice/alice-pass (+15550000001), bob/bob-pass; see README "Demo users"');
    console.log('Press Ctrl-C to stop.');
    return runUntilSignal(app);
  },
};
