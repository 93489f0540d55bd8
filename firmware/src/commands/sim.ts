/** `mfabox sim`: runs the modem simulator in the foreground on a pty. */
import { PROFILES, profileNames, startSimulator } from '../modem/simulator/index.ts';
import { defineCommand, usageError } from './command.ts';

export const simCommand = defineCommand({
  name: 'sim',
  summary: 'Run the AT modem simulator on a pty; print its path and every SMS the handset receives',
  options: {
    profile: { type: 'string', value: 'NAME', default: 'generic', help: 'vendor profile (see --list)' },
    link: { type: 'string', value: 'PATH', help: 'also make a symlink to the pty here' },
    'sms-ms': {
      type: 'integer',
      value: 'N',
      min: 0,
      max: 600_000,
      default: 3000,
      help: 'how long the simulated network takes to deliver an SMS, in ms',
    },
    pin: { type: 'string', value: 'PIN', help: 'the SIM asks for this PIN at boot' },
    json: { type: 'boolean', help: 'one JSON line per wire event and SMS' },
    list: { type: 'boolean', help: 'list the vendor profiles and exit' },
  },
  async run({ values }) {
    if (values.list) {
      for (const [name, p] of PROFILES) console.log(`${name.padEnd(24)} ${p.description}`);
      return 0;
    }
    const profile = values.profile;
    if (!profileNames().includes(profile))
      throw usageError(`unknown profile "${profile}"; one of: ${profileNames().join(', ')}`, 'profile');
    const smsDelayMs = values['sms-ms'];
    const link = values.link;
    const pin = values.pin;
    const json = values.json;

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
});
