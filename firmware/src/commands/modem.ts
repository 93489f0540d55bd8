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
import { defineCommand } from './command.ts';

/** The options every modem one-shot takes, declared once. */
const portOptions = {
  port: { type: 'string', value: 'PATH', required: true, help: 'serial port, e.g. /dev/serial/by-id/usb-…' },
  baud: { type: 'integer', value: 'N', min: 1200, max: 4_000_000, default: 115200, help: 'baud rate' },
  rtscts: { type: 'boolean', help: 'use RTS/CTS hardware flow control' },
  profile: { type: 'string', value: 'NAME', default: 'auto', help: 'vendor profile' },
} as const;

interface PortValues {
  port: string;
  baud: number;
  rtscts: boolean;
  profile: string;
}

async function withModem<T>(args: PortValues, fn: (m: Modem) => Promise<T>): Promise<T> {
  const port = args.port;
  const parsed = modemSchema.safeParse({
    name: 'cli',
    path: port,
    baudRate: args.baud,
    rtscts: args.rtscts,
    profile: args.profile,
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

export const modemProbeCommand = defineCommand({
  name: 'modem probe',
  summary: 'Print the modem identity, SIM, registration, operator and signal',
  details: 'Never enters a SIM PIN: a locked SIM shows as "pin-needed". Stop the service first.',
  options: portOptions,
  async run({ values }) {
    const r = await withModem(values, (m) => probeOnce(m));
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
});

export const modemSendCommand = defineCommand({
  name: 'modem send',
  summary: 'Send one SMS and print its message reference(s), one per part',
  options: {
    ...portOptions,
    to: { type: 'string', value: 'NUMBER', required: true, help: 'the phone number' },
    country: { type: 'string', value: 'CC', default: 'US', help: 'country for a number without +' },
    flash: { type: 'boolean', help: 'send as a flash SMS (class 0)' },
    report: { type: 'boolean', help: 'ask the network for a status report' },
  },
  args: { value: 'TEXT', required: true, help: 'the message; several words are joined with spaces' },
  async run({ values, args }) {
    // A number typed by hand for a test send: lab numbers (555-01xx) are allowed; the network refuses bad ones.
    const n = normaliseNumber(values.to, values.country, { acceptPossible: true });
    if (!n.ok) throw new MfaError(`--to: ${n.reason}`, ErrorCode.SmsInvalidNumber, { field: 'to' });
    const refs = await withModem(values, (m) =>
      sendOnce(
        m,
        n.e164,
        args.join(' '),
        { remainingMs: 24 * 3600 * 1000, flash: values.flash, statusReport: values.report },
        {
          // The outbox's rules (the pool's): a one-off refusal such as CMS 512 is tried again.
          onRetry: (r) => console.error(`retry ${r.attempt} in ${r.delayMs} ms: ${r.reason}`),
        },
      ),
    );
    for (const r of refs) console.log(String(r));
    return 0;
  },
});
