/** `mfabox sim`: runs the modem simulator in the foreground on a pty. */
import { ErrorCode, MfaError } from '../errors.ts';
import { PROFILES, profileNames, startSimulator } from '../modem/simulator/index.ts';
import { parseFlags, type Command } from './command.ts';

export const simCommand: Command = {
  name: 'sim',
  usage: 'sim [--profile NAME] [--link PATH] [--sms-ms N] [--pin P] [--json] | sim --list',
  summary: 'Run the AT modem simulator on a pty; print its path and every SMS the handset receives',
  async run(args) {
    const { flags } = parseFlags(args, ['json', 'list']);
    if (flags.get('list') === true) {
      for (const [name, p] of PROFILES) console.log(`${name.padEnd(24)} ${p.description}`);
      return 0;
    }
    const str = (k: string): string | undefined => {
      const v = flags.get(k);
      if (v === true) throw new MfaError(`--${k} needs a value`, ErrorCode.CliUsage, { field: k });
      return v;
    };
    const profile = str('profile') ?? 'generic';
    if (!profileNames().includes(profile))
      throw new MfaError(
        `unknown profile "${profile}"; one of: ${profileNames().join(', ')}`,
        ErrorCode.CliUsage,
        {
          field: 'profile',
        },
      );
    const smsMs = str('sms-ms');
    const smsDelayMs = smsMs === undefined ? 3000 : Number(smsMs);
    if (!Number.isFinite(smsDelayMs) || smsDelayMs < 0 || smsDelayMs > 600_000)
      throw new MfaError('--sms-ms takes milliseconds 0–600000', ErrorCode.CliUsage, { field: 'sms-ms' });
    const link = str('link');
    const pin = str('pin');
    const json = flags.get('json') === true;

    const sim = await startSimulator({
      profile,
      smsDelayMs,
      ...(link !== undefined ? { link } : {}),
      ...(pin !== undefined ? { pin } : {}),
    });
    const out = (o: Record<string, unknown>): void => console.log(JSON.stringify(o));
    if (json) {
      out({ kind: 'ready', path: sim.path, profile, smsDelayMs });
      // The boot happened inside startSimulator: replay it so the stream is complete.
      for (const e of sim.log) out({ ...e });
      sim.onEvent = (e) => out({ ...e });
    } else console.log(`Modem simulator (${profile}) on ${sim.path}`);
    sim.inbox.on('sms', (m) => {
      if (json) out({ kind: 'sms', t: m.receivedAt, ...m });
      // One line per SMS, whatever the text holds.
      else console.log(`SMS to ${m.to}: ${m.text.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}`);
    });

    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    });
    await sim.stop();
    if (!json) console.log('Simulator stopped');
    return 0;
  },
};
