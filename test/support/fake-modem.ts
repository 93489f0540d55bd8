/**
 * A scripted in-memory modem for unit tests of Modem and ModemPool (the pty simulator covers the
 * real serial path in test/integration). It answers the commands the driver sends, with knobs for
 * the cases the unit tests need.
 */
import { MemoryTransport } from './memory-transport.ts';

export interface FakeModemState {
  manufacturer: string;
  model: string;
  /** 'READY' | 'SIM PIN' | 'SIM PUK' | 'absent' */
  sim: string;
  correctPin: string;
  triesLeft: number;
  /** +CPIN? answers CME 14 this many times first. */
  simBusy: number;
  creg: number;
  cereg: number;
  /** Final for each successive CMGS submit; undefined → +CMGS: <mr> OK. 'hang' → no answer. */
  cmgsFinals: (string | undefined)[];
  cmgsAlways?: string;
  /** Finals given instead of the `> ` prompt to successive AT+CMGS= commands (nothing sent). */
  promptFinals: string[];
  mr: number;
  pinAttempts: number;
  submits: string[];
  /** Delay before the +CMGS answer, ms. */
  sendDelayMs: number;
  cnmiRefuseDs1: boolean;
  /** What +CSCA? reports; '' for a SIM without an SMS centre number. */
  smsc: string;
  /** Commands answered with ERROR. */
  refuse: string[];
  /** The final for a wrong PIN (the try is spent either way); modems that ignore CMEE say ERROR. */
  pinWrongFinal: string;
  /**
   * The next this many PIN entries answer SIM busy (CME 14) after the SIM checked the PIN: a wrong
   * one spends a try all the same, as some firmware does.
   */
  pinBusySpends: number;
  /** +CPIN? answers CME 14 this many times after the correct PIN is entered. */
  busyAfterPin: number;
  /** A hung modem: bytes in, nothing out (not even to ESC). */
  hung: boolean;
  /**
   * Answers given to the next uses of commands that start with a key (upper case), before their
   * normal answer: a final line such as '+CME ERROR: 14', or 'silent' for no answer at all.
   */
  scripted: Record<string, string[]>;
}

export function fakeModem(over: Partial<FakeModemState> = {}): { t: MemoryTransport; s: FakeModemState } {
  const s: FakeModemState = {
    manufacturer: 'Quectel',
    model: 'EC25',
    sim: 'READY',
    correctPin: '1234',
    triesLeft: 3,
    simBusy: 0,
    creg: 1,
    cereg: 1,
    cmgsFinals: [],
    promptFinals: [],
    mr: 0,
    pinAttempts: 0,
    submits: [],
    sendDelayMs: 1,
    cnmiRefuseDs1: true,
    smsc: '+15550000000',
    refuse: [],
    pinWrongFinal: '+CME ERROR: 16',
    pinBusySpends: 0,
    busyAfterPin: 0,
    hung: false,
    scripted: {},
    ...over,
  };
  const ok = (t: MemoryTransport, body = '') => t.emitData(`${body ? `\r\n${body}\r\n` : ''}\r\nOK\r\n`);
  const t = new MemoryTransport((cmd, tr) => {
    if (s.hung) return;
    if (cmd.endsWith('\x1b')) return void tr.emitData('\r\nOK\r\n');
    if (cmd.endsWith('\x1a')) {
      s.submits.push(cmd.slice(0, -1));
      const f = s.cmgsFinals.length > 0 ? s.cmgsFinals.shift() : s.cmgsAlways;
      if (f === 'hang') return;
      setTimeout(() => {
        if (f) tr.emitData(`\r\n${f}\r\n`);
        else tr.emitData(`\r\n+CMGS: ${++s.mr}\r\n\r\nOK\r\n`);
      }, s.sendDelayMs);
      return;
    }
    const c = cmd.toUpperCase();
    const key = Object.keys(s.scripted).find((k) => c.startsWith(k) && (s.scripted[k]?.length ?? 0) > 0);
    const scripted = key === undefined ? undefined : s.scripted[key]?.shift();
    if (scripted === 'silent') return;
    if (scripted !== undefined) return void tr.emitData(`\r\n${scripted}\r\n`);
    if (s.refuse.includes(c)) return void tr.emitData('\r\nERROR\r\n');
    if (c.startsWith('AT+CMGS=')) {
      const refused = s.promptFinals.shift();
      return void tr.emitData(refused ? `\r\n${refused}\r\n` : '\r\n> ');
    }
    if (c === 'AT+CPIN?') {
      if (s.simBusy > 0) {
        s.simBusy--;
        return void tr.emitData('\r\n+CME ERROR: 14\r\n');
      }
      if (s.sim === 'absent') return void tr.emitData('\r\n+CME ERROR: 10\r\n');
      return ok(tr, `+CPIN: ${s.sim}`);
    }
    if (c.startsWith('AT+CPIN=')) {
      s.pinAttempts++;
      const pin = /"(\d+)"/.exec(cmd)?.[1];
      if (s.pinBusySpends > 0 && pin !== s.correctPin) {
        s.pinBusySpends--;
        s.triesLeft--;
        if (s.triesLeft === 0) s.sim = 'SIM PUK';
        return void tr.emitData('\r\n+CME ERROR: 14\r\n');
      }
      if (pin === s.correctPin) {
        s.sim = 'READY';
        s.triesLeft = 3;
        s.simBusy = s.busyAfterPin;
        return ok(tr);
      }
      s.triesLeft--;
      if (s.triesLeft === 0) s.sim = 'SIM PUK';
      return void tr.emitData(`\r\n${s.pinWrongFinal}\r\n`);
    }
    if (c === 'AT+QPINC="SC"') return ok(tr, `+QPINC: "SC",${s.triesLeft},10`);
    if (c === 'AT+QCCID') return ok(tr, '+QCCID: 89441000301234567890');
    if (c === 'AT+CGMI') return ok(tr, s.manufacturer);
    if (c === 'AT+CGMM') return ok(tr, s.model);
    if (c === 'AT+CGMR') return ok(tr, 'R1');
    if (c === 'AT+CGSN') return ok(tr, '867000000000001');
    if (c === 'ATI') return ok(tr, `${s.manufacturer}\r\n${s.model}`);
    if (c === 'AT+CREG?') return ok(tr, `+CREG: 0,${s.creg}`);
    if (c === 'AT+CGREG?') return ok(tr, `+CGREG: 0,${s.cereg}`);
    if (c === 'AT+CEREG?') return ok(tr, `+CEREG: 0,${s.cereg}`);
    if (c === 'AT+CSQ') return ok(tr, '+CSQ: 20,99');
    if (c === 'AT+COPS?') return ok(tr, '+COPS: 0,0,"Test Net",7');
    if (c === 'AT+CSCA?') return ok(tr, `+CSCA: "${s.smsc}",${s.smsc ? 145 : 129}`);
    if (c.startsWith('AT+CNMI=') && s.cnmiRefuseDs1 && c === 'AT+CNMI=2,1,0,1,0')
      return void tr.emitData('\r\n+CMS ERROR: 303\r\n');
    if (c === 'AT+GCAP') return ok(tr, '+GCAP: +CGSM');
    return ok(tr);
  });
  return { t, s };
}
