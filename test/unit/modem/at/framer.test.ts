import { describe, expect, it } from 'vitest';
import {
  AtFramer,
  parseFinal,
  type Expectation,
  type FramerEvent,
} from '../../../../firmware/src/modem/at/framer.ts';

interface Step {
  expect: Expectation | null;
  bytes: string;
}
interface Fixture {
  name: string;
  steps: Step[];
  events: FramerEvent[];
}

const OK: FramerEvent = { type: 'final', result: { ok: true, text: 'OK' }, line: 'OK' };
const line = (text: string): FramerEvent => ({ type: 'line', text, solicited: true });
const urc = (name: string, l: string, data?: string): FramerEvent =>
  data === undefined ? { type: 'urc', name, line: l } : { type: 'urc', name, line: l, data };

const PDU = '0011000B915155550000F10000A705C8329BFD06';

const FIXTURES: Fixture[] = [
  {
    name: 'plain reply with V1 framing',
    steps: [{ expect: { echo: 'AT+CSQ' }, bytes: '\r\n+CSQ: 23,99\r\n\r\nOK\r\n' }],
    events: [line('+CSQ: 23,99'), OK],
  },
  {
    name: 'echo on (ATE0 not honoured)',
    steps: [{ expect: { echo: 'AT+CSQ' }, bytes: 'AT+CSQ\r\r\n+CSQ: 23,99\r\n\r\nOK\r\n' }],
    events: [{ type: 'echo', text: 'AT+CSQ' }, line('+CSQ: 23,99'), OK],
  },
  {
    name: 'lower-case echo of the command',
    steps: [{ expect: { echo: 'AT' }, bytes: 'at\r\r\nOK\r\n' }],
    events: [{ type: 'echo', text: 'at' }, OK],
  },
  {
    name: 'multi-line ATI output with single CRLFs',
    steps: [
      { expect: { echo: 'ATI' }, bytes: '\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n' },
    ],
    events: [line('Quectel'), line('EC25'), line('Revision: EC25EFAR06A06M4G'), OK],
  },
  {
    name: 'URC between reply and final',
    steps: [{ expect: { echo: 'AT+CSQ' }, bytes: '\r\n+CSQ: 23,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n' }],
    events: [urc('+CMTI', '+CMTI: "SM",3'), line('+CSQ: 23,99'), OK],
  },
  {
    name: 'URC injected in the middle of a reply line',
    steps: [
      {
        expect: { echo: 'AT^SYSINFO' },
        bytes: '\r\n^SYSINFO:2,3,0\r\n+CMTI: "SM",29\r\n,5,1,,4\r\n\r\nOK\r\n',
      },
    ],
    events: [urc('+CMTI', '+CMTI: "SM",29'), line('^SYSINFO:2,3,0,5,1,,4'), OK],
  },
  {
    name: 'URC between two ATI lines is not a continuation',
    steps: [{ expect: { echo: 'ATI' }, bytes: '\r\nQuectel\r\n\r\n^RSSI:17\r\nEC25\r\n\r\nOK\r\n' }],
    events: [urc('^RSSI', '^RSSI:17'), line('Quectel'), line('EC25'), OK],
  },
  {
    name: 'URC injected in the echo of the command (MBM style)',
    steps: [
      { expect: { echo: 'AT*EMRDY?' }, bytes: 'AT*EMRD\r\n^RSSI:9\r\nY?\r\r\n*EMRDY: 1\r\n\r\nOK\r\n' },
    ],
    events: [urc('^RSSI', '^RSSI:9'), { type: 'echo', text: 'AT*EMRDY?' }, line('*EMRDY: 1'), OK],
  },
  {
    name: 'glued +CME ERROR: 25 followed by a URC without CRLF',
    steps: [{ expect: { echo: 'AT+CPBW=1,"x"' }, bytes: '\r\n+CME ERROR: 25+CMTI: "ME",1\r\n' }],
    events: [
      { type: 'final', result: { ok: false, family: 'cme', code: 25, text: '25' }, line: '+CME ERROR: 25' },
      urc('+CMTI', '+CMTI: "ME",1'),
    ],
  },
  {
    name: 'reply line glued to ^RSSI',
    steps: [{ expect: { echo: 'AT+CSQ' }, bytes: '\r\n+CSQ: 23,99^RSSI:23\r\n\r\nOK\r\n' }],
    events: [urc('^RSSI', '^RSSI:23'), line('+CSQ: 23,99'), OK],
  },
  {
    name: 'CMS error word form',
    steps: [{ expect: { echo: 'AT+CMGS=20' }, bytes: '\r\n+CMS ERROR: Unknown error\r\n' }],
    events: [
      {
        type: 'final',
        result: { ok: false, family: 'cms', text: 'Unknown error' },
        line: '+CMS ERROR: Unknown error',
      },
    ],
  },
  {
    name: 'Huawei vendor finals',
    steps: [
      { expect: { echo: 'AT^FOO' }, bytes: '\r\nCOMMAND NOT SUPPORT\r\n' },
      { expect: { echo: 'AT+CMGF=0,1' }, bytes: '\r\nTOO MANY PARAMETERS\r\n' },
    ],
    events: [
      {
        type: 'final',
        result: { ok: false, family: 'vendor', text: 'COMMAND NOT SUPPORT' },
        line: 'COMMAND NOT SUPPORT',
      },
      {
        type: 'final',
        result: { ok: false, family: 'vendor', text: 'TOO MANY PARAMETERS' },
        line: 'TOO MANY PARAMETERS',
      },
    ],
  },
  {
    name: 'Motorola MODEM ERROR and NO CARRIER',
    steps: [
      { expect: { echo: 'AT+X' }, bytes: '\r\nMODEM ERROR: 3\r\n' },
      { expect: { echo: 'ATD1;' }, bytes: '\r\nNO CARRIER\r\n' },
    ],
    events: [
      {
        type: 'final',
        result: { ok: false, family: 'vendor', code: 3, text: 'MODEM ERROR: 3' },
        line: 'MODEM ERROR: 3',
      },
      { type: 'final', result: { ok: false, family: 'vendor', text: 'NO CARRIER' }, line: 'NO CARRIER' },
    ],
  },
  {
    name: 'the whole CMGS exchange: echo, prompt, PDU echo on the prompt line, +CMGS',
    steps: [
      { expect: { echo: 'AT+CMGS=19', prompt: true }, bytes: 'AT+CMGS=19\r\r\n> ' },
      { expect: { echo: PDU }, bytes: `${PDU}\x1a\r\n\r\n+CMGS: 42\r\n\r\nOK\r\n` },
    ],
    events: [
      { type: 'echo', text: 'AT+CMGS=19' },
      { type: 'prompt' },
      { type: 'echo', text: PDU },
      line('+CMGS: 42'),
      OK,
    ],
  },
  {
    name: 'prompt without space, URC before it',
    steps: [{ expect: { echo: 'AT+CMGS=19', prompt: true }, bytes: '\r\n+CMTI: "SM",1\r\n>' }],
    events: [urc('+CMTI', '+CMTI: "SM",1'), { type: 'prompt' }],
  },
  {
    name: 'a > is only a prompt when one is expected',
    steps: [{ expect: { echo: 'AT+X' }, bytes: '\r\n> 3\r\nOK\r\n' }],
    events: [line('> 3'), OK],
  },
  {
    name: 'two-line +CMT and +CDS carry their PDU line, even mid-reply',
    steps: [
      {
        expect: { echo: 'AT+CSQ' },
        bytes:
          '\r\n+CSQ: 10,99\r\n\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n\r\nOK\r\n',
      },
      { expect: null, bytes: '\r\n+CDS: 25\r\n07914477790706520006D60B914477883535F7\r\n' },
    ],
    events: [
      urc(
        '+CMT',
        '+CMT: ,24',
        '07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07',
      ),
      line('+CSQ: 10,99'),
      OK,
      urc('+CDS', '+CDS: 25', '07914477790706520006D60B914477883535F7'),
    ],
  },
  {
    name: 'text-mode +CDS is one line; +CDSI is a URC',
    steps: [
      {
        expect: null,
        bytes:
          '\r\n+CDS: 6,12,"+15550001",145,"24/01/01,00:00:00+00","24/01/01,00:00:05+00",0\r\n+CDSI: "SR",2\r\n',
      },
    ],
    events: [
      urc('+CDS', '+CDS: 6,12,"+15550001",145,"24/01/01,00:00:00+00","24/01/01,00:00:05+00",0'),
      urc('+CDSI', '+CDSI: "SR",2'),
    ],
  },
  {
    name: 'solicited +CREG reply vs unsolicited +CREG in the same reply',
    steps: [
      {
        expect: { echo: 'AT+CREG?' },
        bytes: '\r\n+CREG: 1,"00C3","0000A2B1",7\r\n+CREG: 2,5,"00C3","0000A2B1",7\r\n\r\nOK\r\n',
      },
    ],
    events: [urc('+CREG', '+CREG: 1,"00C3","0000A2B1",7'), line('+CREG: 2,5,"00C3","0000A2B1",7'), OK],
  },
  {
    name: '+CEREG/+CGREG URCs while another command runs',
    steps: [
      {
        expect: { echo: 'AT+CSQ' },
        bytes: '\r\n+CEREG: 1\r\n+CGREG: 5,"1A2B","01C2D3E4",7\r\n+CSQ: 5,99\r\n\r\nOK\r\n',
      },
    ],
    events: [
      urc('+CEREG', '+CEREG: 1'),
      urc('+CGREG', '+CGREG: 5,"1A2B","01C2D3E4",7'),
      line('+CSQ: 5,99'),
      OK,
    ],
  },
  {
    name: 'boot URCs while idle (SIM800, Quectel, SIMCom)',
    steps: [
      {
        expect: null,
        bytes:
          '\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n+QUSIM: 1\r\nPB DONE\r\nSMS DONE\r\n^SYSSTART\r\n',
      },
    ],
    events: [
      urc('RDY', 'RDY'),
      urc('+CFUN', '+CFUN: 1'),
      urc('+CPIN', '+CPIN: READY'),
      urc('Call Ready', 'Call Ready'),
      urc('SMS Ready', 'SMS Ready'),
      urc('+QUSIM', '+QUSIM: 1'),
      urc('PB DONE', 'PB DONE'),
      urc('SMS DONE', 'SMS DONE'),
      urc('^SYSSTART', '^SYSSTART'),
    ],
  },
  {
    name: '+CPIN reply when asked, Huawei ^BOOT/^MODE/^SIMST always URCs',
    steps: [
      {
        expect: { echo: 'AT+CPIN?' },
        bytes: '\r\n^BOOT:20952548,0,0,0,72\r\n+CPIN: READY\r\n^MODE:5,4\r\n^SIMST:1\r\n\r\nOK\r\n',
      },
    ],
    events: [
      urc('^BOOT', '^BOOT:20952548,0,0,0,72'),
      urc('^MODE', '^MODE:5,4'),
      urc('^SIMST', '^SIMST:1'),
      line('+CPIN: READY'),
      OK,
    ],
  },
  {
    name: 'stray line and late final while idle',
    steps: [{ expect: null, bytes: '\r\n+CSQ: 1,99\r\n\r\nOK\r\n' }],
    events: [{ type: 'line', text: '+CSQ: 1,99', solicited: false }, OK],
  },
  {
    name: 'LF-only and CR-only line endings, numeric V0 finals',
    steps: [
      { expect: { echo: 'AT+CGMI' }, bytes: 'SIMCOM_Ltd\nOK\n' },
      { expect: { echo: 'AT' }, bytes: '0\r' },
      { expect: { echo: 'AT+X' }, bytes: '4\r' },
    ],
    events: [
      line('SIMCOM_Ltd'),
      OK,
      { type: 'final', result: { ok: true, text: 'OK' }, line: '0' },
      { type: 'final', result: { ok: false, family: 'error', text: 'ERROR' }, line: '4' },
    ],
  },
];

/** Runs the fixture, cutting each step's bytes at the given positions. */
function run(f: Fixture, cut: (bytes: string) => string[]): FramerEvent[] {
  const framer = new AtFramer();
  const events: FramerEvent[] = [];
  for (const step of f.steps) {
    framer.expect(step.expect);
    for (const chunk of cut(step.bytes)) events.push(...framer.push(Buffer.from(chunk, 'latin1')));
  }
  events.push(...framer.flush());
  return events;
}

/** Small seeded PRNG so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('AtFramer', () => {
  for (const f of FIXTURES) {
    describe(f.name, () => {
      it('frames the whole input', () => {
        expect(run(f, (b) => [b])).toEqual(f.events);
      });

      it('gives identical events when split at every byte position', () => {
        for (let stepIdx = 0; stepIdx < f.steps.length; stepIdx++) {
          const len = f.steps[stepIdx]?.bytes.length ?? 0;
          for (let at = 1; at < len; at++) {
            let i = 0;
            const got = run(f, (b) => (i++ === stepIdx ? [b.slice(0, at), b.slice(at)] : [b]));
            expect(got, `step ${stepIdx} split at ${at}`).toEqual(f.events);
          }
        }
      });

      it('gives identical events one byte at a time and in random chunks', () => {
        expect(run(f, (b) => [...b])).toEqual(f.events);
        const rnd = prng(f.name.length * 7919);
        for (let trial = 0; trial < 25; trial++) {
          const got = run(f, (b) => {
            const parts: string[] = [];
            let i = 0;
            while (i < b.length) {
              const n = 1 + Math.floor(rnd() * 6);
              parts.push(b.slice(i, i + n));
              i += n;
            }
            return parts;
          });
          expect(got, `trial ${trial}`).toEqual(f.events);
        }
      });
    });
  }

  it('holds a reply line until the next line shows whether a URC cut it, and flush() releases it', () => {
    const framer = new AtFramer();
    framer.expect({ echo: 'AT+CPIN?' });
    expect(framer.push('\r\n+CPIN: READY\r\n')).toEqual([]);
    expect(framer.flush()).toEqual([line('+CPIN: READY')]);
    expect(framer.flush()).toEqual([]);
  });

  it('reports whether a command is in flight', () => {
    const framer = new AtFramer();
    expect(framer.inFlight).toBe(false);
    framer.expect({ echo: 'AT' });
    expect(framer.inFlight).toBe(true);
  });

  it('swallows the space after the prompt even when it arrives in the next chunk', () => {
    const framer = new AtFramer();
    framer.expect({ echo: 'AT+CMGS=5', prompt: true });
    expect(framer.push('\r\n>')).toEqual([{ type: 'prompt' }]);
    framer.expect({ echo: 'ABCD' });
    expect(framer.push(' ABCD\x1a\r\n')).toEqual([{ type: 'echo', text: 'ABCD' }]);
  });
});

describe('AtFramer on random modem-like streams', () => {
  const TOKENS = [
    '\r\n',
    '\r',
    '\n',
    'OK',
    'ERROR',
    '+CME ERROR: 14',
    '+CMS ERROR: 500',
    '+CSQ: 20,99',
    '+CMTI: "SM",1',
    '+CMT: ,20',
    '0791AB',
    '+CDS: 25',
    '> ',
    '>',
    'AT+CSQ',
    '^RSSI:9',
    'RDY',
    '+CREG: 1',
    '+CREG: 0,1',
    'COMMAND NOT SUPPORT',
    ' ',
    '\x1a',
  ];
  const EXPECTS = [null, { echo: 'AT+CSQ' }, { echo: 'AT+CMGS=5', prompt: true }, { echo: 'AT+CREG?' }];

  it('chunking never changes the events, and nothing throws', () => {
    const rnd = prng(12345);
    for (let trial = 0; trial < 300; trial++) {
      const steps: Step[] = [];
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
        let bytes = '';
        for (let n = 0; n < 5 + Math.floor(rnd() * 25); n++)
          bytes += TOKENS[Math.floor(rnd() * TOKENS.length)];
        steps.push({ expect: EXPECTS[Math.floor(rnd() * EXPECTS.length)] ?? null, bytes });
      }
      const f: Fixture = { name: `random ${trial}`, steps, events: [] };
      const whole = run(f, (b) => [b]);
      const cut = run(f, (b) => {
        const parts: string[] = [];
        let i = 0;
        while (i < b.length) {
          const len = 1 + Math.floor(rnd() * 7);
          parts.push(b.slice(i, i + len));
          i += len;
        }
        return parts;
      });
      expect(cut, JSON.stringify(steps)).toEqual(whole);
    }
  });
});

describe('parseFinal', () => {
  it('parses numeric and word CME/CMS errors and leaves other lines alone', () => {
    expect(parseFinal('+CME ERROR: 14')).toEqual({ ok: false, family: 'cme', code: 14, text: '14' });
    expect(parseFinal('+CME ERROR:SIM busy')).toEqual({ ok: false, family: 'cme', text: 'SIM busy' });
    expect(parseFinal('+CMS ERROR: 500')).toEqual({ ok: false, family: 'cms', code: 500, text: '500' });
    expect(parseFinal('MODEM ERROR: busy')).toEqual({
      ok: false,
      family: 'vendor',
      text: 'MODEM ERROR: busy',
    });
    expect(parseFinal('BUSY')).toEqual({ ok: false, family: 'vendor', text: 'BUSY' });
    expect(parseFinal('+CMGS: 4')).toBeUndefined();
    expect(parseFinal('OKAY')).toBeUndefined();
  });
});
