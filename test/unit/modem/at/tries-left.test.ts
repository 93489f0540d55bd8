/**
 * Every profile's PIN tries-left query, answered the way its firmware answers, must reach the
 * driver as a reply through the real framer and channel. When one was framed as a URC the driver
 * saw no count and spent the SIM's last PIN try (generic 3GPP modems, AT+CPINR).
 */
import { describe, expect, it } from 'vitest';
import { AtChannel } from '../../../../firmware/src/modem/channel.ts';
import { AtFramer, type FramerEvent } from '../../../../firmware/src/modem/at/framer.ts';
import { parseTriesLeft } from '../../../../firmware/src/modem/at/replies.ts';
import { loadProfiles } from '../../../../firmware/src/modem/profiles.ts';
import { MemoryTransport } from '../../../support/memory-transport.ts';

/** What each vendor's firmware prints with 2 PIN tries left (from the vendors' AT manuals). */
const REPLIES: Record<string, string[]> = {
  // 27.007 §8.65: +CPINR: <code>,<retries>,<default_retries>; some firmware quote the code.
  'AT+CPINR="SIM PIN"': ['+CPINR: SIM PIN,2,3', '+CPINR: "SIM PIN",2,3'],
  // Huawei: ^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>
  'AT^CPIN?': ['^CPIN: SIM PIN,2,10,2,10,3'],
  'AT+QPINC="SC"': ['+QPINC: "SC",2,10'],
  'AT+SPIC': ['+SPIC: 2,10,3,10'],
  'AT+ZPINPUK=?': ['+ZPINPUK: 2,10'],
};

/** The driver asks the profile's query and, when that is not +CPINR, the 27.007 one as well. */
const GENERIC = { command: 'AT+CPINR="SIM PIN"', pattern: '^\\+CPINR: ?"?SIM PIN"?,(\\d+)' };

const queries = [
  ...loadProfiles().flatMap((p) => (p.triesLeft ? [{ profile: p.name, ...p.triesLeft }] : [])),
  { profile: 'driver fallback', ...GENERIC },
];

describe('PIN tries-left queries through the framer', () => {
  it('knows a sample reply for every profile that has a query', () => {
    for (const q of queries) expect(REPLIES[q.command], `${q.profile}: ${q.command}`).toBeDefined();
    expect(queries.length).toBeGreaterThan(5);
  });

  for (const q of queries) {
    for (const reply of REPLIES[q.command] ?? []) {
      it(`${q.profile}: ${q.command} → ${reply} gives 2 tries, echo on or off`, async () => {
        for (const echo of [true, false]) {
          const t = new MemoryTransport((cmd, tr) => {
            // A URC in the same burst must still be kept out of the reply.
            tr.emitData(`${echo ? `${cmd}\r` : ''}\r\n${reply}\r\n\r\n+CMTI: "SM",4\r\n\r\nOK\r\n`);
          });
          await t.open();
          const ch = new AtChannel(t, { basic: 300, drainQuiet: 20, drainMax: 100 });
          const urcs: string[] = [];
          ch.on('urc', (e: Extract<FramerEvent, { type: 'urc' }>) => urcs.push(e.name));
          const r = await ch.exec(q.command);
          expect(r.final.ok).toBe(true);
          expect(parseTriesLeft(r.lines, q.pattern)).toBe(2);
          expect(urcs).toEqual(['+CMTI']);
        }
      });

      it(`${q.profile}: ${reply} is a reply at every split point`, () => {
        const bytes = `${q.command}\r\r\n${reply}\r\n\r\nOK\r\n`;
        for (let at = 1; at < bytes.length; at++) {
          const f = new AtFramer();
          f.expect({ echo: q.command });
          const evs = [...f.push(bytes.slice(0, at)), ...f.push(bytes.slice(at))];
          const lines = evs.flatMap((e) => (e.type === 'line' && e.solicited ? [e.text] : []));
          expect(parseTriesLeft(lines, q.pattern), `split at ${at}`).toBe(2);
          expect(evs.some((e) => e.type === 'urc')).toBe(false);
        }
      });
    }
  }
});

describe('+CPINR outside its own command', () => {
  it('is a URC during another command, and +CPIN during AT+CPINR stays a URC', () => {
    const f = new AtFramer();
    f.expect({ echo: 'AT+CSQ' });
    const a = f.push('\r\n+CPINR: SIM PIN,3,3\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n');
    expect(a.filter((e) => e.type === 'urc').map((e) => e.type === 'urc' && e.name)).toEqual(['+CPINR']);
    f.expect({ echo: 'AT+CPINR="SIM PIN"' });
    const b = f.push('\r\n+CPIN: READY\r\n\r\n+CPINR: SIM PIN,3,3\r\n\r\nOK\r\n');
    expect(b.filter((e) => e.type === 'urc').map((e) => e.type === 'urc' && e.name)).toEqual(['+CPIN']);
    expect(b.filter((e) => e.type === 'line').map((e) => e.type === 'line' && e.text)).toEqual([
      '+CPINR: SIM PIN,3,3',
    ]);
  });
});
