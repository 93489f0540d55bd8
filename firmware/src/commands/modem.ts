/**
 * `mfabox modem probe` and `mfabox modem send`: talk to one modem directly, for installation and
 * troubleshooting. They never enter a SIM PIN (a wrong one from a command line would spend a
 * try); a locked SIM is reported as "pin-needed". Do not run them on a port the service is using.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../clock.ts';
import { modemSchema } from '../config/schema.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { Modem } from '../modem/modem.ts';
import { probeOnce, sendOnce } from '../modem/one-shot.ts';
import { serialTransport, stableNameFor } from '../modem/transport.ts';
import { normaliseNumber } from '../phone.ts';
import { openStore } from '../store/store.ts';
import { parseFlags, type Command } from './command.ts';

async function withModem<T>(
  args: Map<string, string | true>,
  usage: string,
  fn: (m: Modem) => Promise<T>,
): Promise<T> {
  const port = args.get('port');
  if (typeof port !== 'string' || port === '')
    throw new MfaError(`usage: mfabox ${usage}`, ErrorCode.CliUsage);
  const baud = args.get('baud');
  const parsed = modemSchema.safeParse({
    name: 'cli',
    path: port,
    ...(typeof baud === 'string' ? { baudRate: Number(baud) } : {}),
    rtscts: args.get('rtscts') === true,
    profile: typeof args.get('profile') === 'string' ? args.get('profile') : 'auto',
  });
  if (!parsed.success) throw new MfaError(parsed.error.message, ErrorCode.CliUsage);
  const stable = stableNameFor(port);
  if (stable && stable !== port) console.error(`hint: use the stable name ${stable} in the config`);
  // A throwaway store: the CLI never enters a PIN, so it has no PIN state worth keeping.
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-cli-'));
  const store = await openStore(dir);
  try {
    return await fn(
      new Modem({
        config: parsed.data,
        store,
        clock: systemClock,
        transportFactory: serialTransport,
        timings: { probeTries: 3 },
      }),
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const modemProbeCommand: Command = {
  name: 'modem probe',
  usage: 'modem probe --port P [--baud N] [--rtscts] [--profile NAME]',
  summary: 'Print the modem identity, SIM, registration, operator and signal',
  async run(args) {
    const { flags } = parseFlags(args, ['rtscts']);
    const r = await withModem(flags, this.usage, (m) => probeOnce(m));
    const id = r.identity;
    const rows: [string, string | undefined][] = [
      ['manufacturer', id.manufacturer],
      ['model', id.model],
      ['revision', id.revision],
      ['imei', id.imei],
      ['iccid', id.iccid],
      ['profile', r.profile],
      ['sim', r.sim],
      ['registration', r.registration],
      ['operator', r.operator],
      ['signal', r.dbm === undefined ? undefined : `${r.dbm} dBm, ${r.bars ?? 0}/5 bars`],
      ['smsc', r.smsc],
      ['mode', r.textMode ? 'text' : 'pdu'],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(13)} ${v ?? '-'}`);
    return r.sim === 'ready' && r.registration.startsWith('registered') ? 0 : 1;
  },
};

export const modemSendCommand: Command = {
  name: 'modem send',
  usage: 'modem send --port P --to N [--country CC] [--flash] [--report] TEXT',
  summary: 'Send one SMS and print its message reference(s), one per part',
  async run(args) {
    const { flags, positional } = parseFlags(args, ['rtscts', 'flash', 'report']);
    const to = flags.get('to');
    if (typeof to !== 'string' || positional.length === 0)
      throw new MfaError(`usage: mfabox ${this.usage}`, ErrorCode.CliUsage);
    const country = flags.get('country');
    // A number typed by hand for a test send: lab numbers (555-01xx) are allowed; the network refuses bad ones.
    const n = normaliseNumber(to, typeof country === 'string' ? country : 'US', { acceptPossible: true });
    if (!n.ok) throw new MfaError(`--to: ${n.reason}`, ErrorCode.SmsInvalidNumber, { field: 'to' });
    const refs = await withModem(flags, this.usage, (m) =>
      sendOnce(
        m,
        n.e164,
        positional.join(' '),
        {
          remainingMs: 24 * 3600 * 1000,
          flash: flags.get('flash') === true,
          statusReport: flags.get('report') === true,
        },
        {
          // The outbox's rules (the pool's): a one-off refusal such as CMS 512 is tried again.
          onRetry: (r) => console.error(`retry ${r.attempt} in ${r.delayMs} ms: ${r.reason}`),
        },
      ),
    );
    for (const r of refs) console.log(String(r));
    return 0;
  },
};
