/**
 * The simulated modem's brain: bytes in, bytes out, timers. It knows nothing of ptys, so unit
 * tests can drive it in-process; simulator.ts wires it to a real pty.
 */
import { decodeSubmit, decodeTextModeBody, encodeStatusReport, vpToSeconds } from '../pdu/index.ts';
import { parseCommandBody, type AtCommand } from './command-line.ts';
import type { Fault } from './faults.ts';
import type { HandsetInbox } from './handset.ts';
import { formatFinal, type Final } from './result-codes.ts';
import { SimCard } from './sim-card.ts';
import type { SimProfile } from './profiles.ts';

export type SimEventKind =
  | 'cmd'
  | 'cmgs-command'
  | 'prompt'
  | 'submit-start'
  | 'submit-done'
  | 'submit-failed'
  | 'submit-cancel'
  | 'urc'
  | 'boot'
  | 'reboot'
  | 'unplug'
  | 'replug'
  | 'fault'
  | 'status-report'
  | 'error';

export interface SimEvent {
  /** performance.timeOrigin + performance.now(): wall-clock ms with sub-ms resolution. */
  t: number;
  kind: SimEventKind;
  detail?: Record<string, unknown>;
}

export interface EngineOptions {
  profile: SimProfile;
  smsDelayMs: number;
  /** The SIM's PIN; undefined = PIN disabled (unless the profile requires one: "1234"). */
  pin?: string;
  puk?: string;
  iccid: string;
  imei: string;
  smsc?: string;
  write: (data: string) => void;
  event: (kind: SimEventKind, detail?: Record<string, unknown>) => void;
  handset: HandsetInbox;
  /** The USB device goes away for `ms` ('forever' = re-enumerated without an AT port). */
  unplug: (ms: number | 'forever') => void;
  /** Monotonic ms; injectable for tests. */
  now?: () => number;
}

interface Outcome {
  lines?: string[];
  final?: Final;
  prompt?: { mode: 'pdu'; length: number } | { mode: 'text'; to: string };
  after?: () => void;
}

const OK: Outcome = {};
const CTRL_Z = 0x1a;
const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;

/** SIM busy (+CME ERROR: 14) after any restart, at least. */
export const RESTART_SIM_BUSY_MS = 500;

const ACT: Record<SimProfile['rat'], number> = { gsm: 0, umts: 2, lte: 7 };

export class ModemEngine {
  private readonly p: SimProfile;
  private readonly now: () => number;
  private timers = new Set<NodeJS.Timeout>();

  // Settings that a reboot or ATZ resets.
  private echo = true;
  private verbose = true;
  private cmee = 0;
  private cmgf = 0;
  private cscs = 'IRA';
  private csmp = { fo: 17, vp: 167, pid: 0, dcs: 0 };
  private cnmi = [0, 0, 0, 0, 0];
  private csms = 0;
  private regN = { creg: 0, cgreg: 0, cereg: 0 };
  private cfun = 1;
  private zteOnline = false;
  private periodicOn = true;
  private smsc = '+15550009999';

  // The SIM keeps its counters across reboots, as a real card does.
  private readonly sim: SimCard;
  private regSince: number | undefined;
  private lastStat = { creg: -1, cgreg: -1, cereg: -1 };

  // Wire state.
  private mode: 'command' | 'pdu' | 'text' | 'sending' = 'command';
  private line = '';
  private lastLine = '';
  private body = '';
  private prompt: Outcome['prompt'];
  private queuedLines: string[] = [];
  private queuedUrcs: string[] = [];
  private replies = 0;
  private mr = 0;
  private cdsIndex = 1;
  private readonly storedReports = new Map<number, { mr: number; to: string; status: number; at: Date }>();
  /** TP-ST the simulated network reports (0 = delivered); set with the 'status-report' fault. */
  private reportStatus = 0;
  private acksOutstanding = 0;

  // Faults.
  private hung = false;
  private smsBusyUntil = 0;
  private noNetwork = false;
  private cmsFault: { code: number; always: boolean } | undefined;
  private midSend: Extract<Fault, { kind: 'reboot-mid-send' | 'unplug-mid-send' }> | undefined;
  private replyUrc: { line: string; mode: 'between' | 'mid-line' } | undefined;
  private forcedStat: Partial<Record<'creg' | 'cgreg' | 'cereg', number>> | undefined;
  private stopped = false;

  constructor(private readonly o: EngineOptions) {
    this.p = o.profile;
    this.now = o.now ?? (() => performance.now());
    this.sim = new SimCard(
      o.pin ?? (o.profile.pinRequired ? '1234' : undefined),
      o.puk ?? '12345678',
      this.now,
    );
  }

  /** Power on: settings to defaults, SIM locked again if it has a PIN, boot URCs. */
  boot(kind: 'power-on' | 'restart' = 'power-on'): void {
    this.clearTimers();
    this.stopped = false;
    this.hung = false;
    this.echo = this.p.echoDefault;
    this.verbose = true;
    this.cmee = 0;
    this.cmgf = this.p.pduMode ? 0 : 1;
    this.cscs = 'IRA';
    this.csmp = { fo: 17, vp: 167, pid: 0, dcs: 0 };
    this.cnmi = [0, 0, 0, 0, 0];
    this.csms = 0;
    this.regN = { creg: 0, cgreg: 0, cereg: 0 };
    this.cfun = 1;
    this.zteOnline = false;
    this.periodicOn = true;
    this.mode = 'command';
    this.line = '';
    this.body = '';
    this.queuedLines = [];
    this.queuedUrcs = [];
    this.acksOutstanding = 0;
    this.lastStat = { creg: -1, cgreg: -1, cereg: -1 };
    // A restart (reset, watchdog, replug) always leaves the SIM initialising for a moment, even on
    // profiles whose first power-on is modelled as long settled.
    this.sim.powerOn(
      kind === 'restart'
        ? Math.max(this.p.simBusyAfterBootMs, RESTART_SIM_BUSY_MS)
        : this.p.simBusyAfterBootMs,
    );
    this.regSince = undefined;
    this.maybeStartRegistration();
    this.o.event('boot', { profile: this.p.name });
    for (const u of this.p.bootUrcs)
      if (!u.afterSimReady || this.sim.lock === 'ready')
        this.later(u.afterMs, () => this.urc(u.line.replace('{cpin}', this.cpinWord())));
    if (this.p.periodicUrcs) {
      const { everyMs, lines } = this.p.periodicUrcs;
      let i = 0;
      const tick = (): void => {
        if (this.periodicOn && this.mode === 'command' && this.line === '')
          this.urc(lines[i++ % lines.length] ?? '');
        this.later(everyMs, tick);
      };
      this.later(everyMs, tick);
    }
  }

  /** Stops every timer; the engine ignores input afterwards until boot(). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** A reboot as the firmware does it (AT+CFUN=1,1, a watchdog, a brown-out). */
  reboot(): void {
    this.o.event('reboot');
    this.boot('restart');
  }

  fault(f: Fault): void {
    this.o.event('fault', { ...f });
    switch (f.kind) {
      case 'cms-error':
        this.cmsFault = { code: f.code, always: f.times === 'always' };
        break;
      case 'hang':
        this.hung = true;
        break;
      case 'reboot-mid-send':
      case 'unplug-mid-send':
        this.midSend = f;
        break;
      case 'dead-sim':
        this.sim.dead = true;
        this.updateRegistration();
        break;
      case 'no-network':
        this.noNetwork = true;
        this.updateRegistration();
        break;
      case 'sim-busy':
        this.sim.busyUntil = this.now() + f.ms;
        break;
      case 'sms-busy':
        this.smsBusyUntil = this.now() + f.ms;
        break;
      case 'urc':
        this.urc(f.line);
        break;
      case 'status-report':
        this.reportStatus = f.status & 0xff;
        break;
      case 'registration':
        this.forcedStat = {
          ...(f.creg !== undefined ? { creg: f.creg } : {}),
          ...(f.cgreg !== undefined ? { cgreg: f.cgreg } : {}),
          ...(f.cereg !== undefined ? { cereg: f.cereg } : {}),
        };
        this.updateRegistration();
        break;
      case 'urc-in-reply':
        this.replyUrc = { line: f.line, mode: f.mode };
        break;
      case 'clear':
        this.hung = false;
        this.smsBusyUntil = 0;
        this.sim.dead = false;
        this.noNetwork = false;
        this.cmsFault = undefined;
        this.midSend = undefined;
        this.replyUrc = undefined;
        this.forcedStat = undefined;
        this.reportStatus = 0;
        this.sim.busyUntil = 0;
        this.maybeStartRegistration();
        this.updateRegistration();
        break;
    }
  }

  input(chunk: Uint8Array): void {
    if (this.stopped || this.hung) return;
    for (const b of chunk) {
      try {
        this.byte(b);
      } catch (e) {
        // A simulator bug must not take the test process (or `mfabox sim`) down: answer as a
        // confused modem would, and record it.
        this.mode = 'command';
        this.o.event('error', { error: e instanceof Error ? e.message : String(e) });
        this.write(this.verbose ? '\r\nERROR\r\n' : '4\r');
      }
    }
  }

  // ---- wire -------------------------------------------------------------------------------

  private byte(b: number): void {
    if (this.mode === 'pdu' || this.mode === 'text') {
      if (b === CTRL_Z) {
        if (this.echo) this.write(String.fromCharCode(b));
        this.submit();
      } else if (b === ESC) {
        this.mode = 'command';
        this.o.event('submit-cancel');
        if (this.p.escReply === 'OK') this.write(this.verbose ? '\r\nOK\r\n' : '0\r');
        this.afterFinal();
      } else if (b === CR && this.mode === 'text') {
        if (this.echo) this.write('\r');
        this.body += '\n';
        this.write('\r\n> ');
      } else if (b !== CR && b !== LF) {
        if (this.echo) this.write(String.fromCharCode(b));
        this.body += String.fromCharCode(b);
      }
      return;
    }
    if (this.echo && this.mode === 'command') this.write(String.fromCharCode(b));
    if (b === LF) return;
    if (b === BS) {
      this.line = this.line.slice(0, -1);
      return;
    }
    if (b === CR) {
      const l = this.line;
      this.line = '';
      if (this.mode === 'sending') this.queuedLines.push(l);
      else this.commandLine(l);
      return;
    }
    if (b === ESC || b === CTRL_Z) return;
    this.line += String.fromCharCode(b);
    if (this.mode === 'command' && /^a\/$/i.test(this.line.trimStart())) {
      this.line = '';
      if (this.lastLine !== '') this.commandLine(this.lastLine);
    }
  }

  private write(s: string): void {
    if (this.stopped || this.hung || s === '') return;
    this.o.write(s);
  }

  private urc(line: string): void {
    if (line === '') return;
    if (this.mode !== 'command' && this.p.urcInReply === undefined) {
      this.queuedUrcs.push(line);
      return;
    }
    this.o.event('urc', { line: line.split('\r\n')[0] });
    this.write(`\r\n${line}\r\n`);
  }

  private afterFinal(): void {
    const urcs = this.queuedUrcs;
    this.queuedUrcs = [];
    for (const u of urcs) this.urc(u);
    while (this.mode === 'command' && this.queuedLines.length > 0)
      this.commandLine(this.queuedLines.shift() ?? '');
  }

  // ---- command lines ----------------------------------------------------------------------

  private commandLine(raw: string): void {
    const text = raw.trim();
    const at = text.search(/at/i);
    if (at < 0) return; // V.250: characters before "AT" are ignored; a line without it gets nothing.
    const body = text.slice(at + 2);
    this.lastLine = text.slice(at);
    this.o.event('cmd', { line: redact(this.lastLine) });
    const cmds = parseCommandBody(body);
    if (!cmds) {
      this.respond([], { kind: 'error' });
      return;
    }
    const lines: string[] = [];
    for (const c of cmds) {
      const out = this.execute(c);
      lines.push(...(out.lines ?? []));
      if (out.prompt) {
        this.respond(lines, undefined);
        this.enterPrompt(out.prompt);
        return;
      }
      if (out.final && out.final.kind !== 'ok') {
        this.respond(lines, out.final);
        out.after?.();
        return;
      }
      if (out.after) {
        this.respond(lines, { kind: 'ok' });
        out.after();
        return;
      }
    }
    this.respond(lines, { kind: 'ok' });
  }

  private respond(lines: string[], final: Final | undefined): void {
    let info = '';
    if (lines.length > 0) {
      info = this.verbose ? `\r\n${lines.join('\r\n')}\r\n` : `${lines.join('\r\n')}\r\n`;
      const inject = this.replyInjection();
      if (inject?.mode === 'between') info += `\r\n${inject.line}\r\n`;
      else if (inject?.mode === 'mid-line') {
        const cut = Math.max(3, Math.floor(info.length / 2));
        info = `${info.slice(0, cut)}\r\n${inject.line}\r\n${info.slice(cut)}`;
      }
      if (inject) this.o.event('urc', { line: inject.line, inReply: inject.mode });
    }
    this.write(info + (final ? this.finalText(final) : ''));
    if (final) this.afterFinal();
  }

  private replyInjection(): { line: string; mode: 'between' | 'mid-line' } | undefined {
    if (this.replyUrc) {
      const r = this.replyUrc;
      this.replyUrc = undefined;
      return r;
    }
    const q = this.p.urcInReply;
    if (!q || !this.periodicOn) return undefined;
    this.replies++;
    return this.replies % q.everyNth === 0 ? { line: q.line, mode: q.mode } : undefined;
  }

  private finalText(f: Final): string {
    return formatFinal(f, this.verbose, this.cmee);
  }

  private unknown(): Outcome {
    return {
      final:
        this.p.unknownFinal === 'ERROR' ? { kind: 'error' } : { kind: 'text', text: this.p.unknownFinal },
    };
  }

  private tooMany(): Outcome {
    return {
      final: this.p.tooManyParamsFinal
        ? { kind: 'text', text: this.p.tooManyParamsFinal }
        : { kind: 'error' },
    };
  }

  // ---- commands ---------------------------------------------------------------------------

  private execute(c: AtCommand): Outcome {
    const vendorKey =
      c.name +
      (c.op === 'set' ? `=${c.raw.toUpperCase()}` : c.op === 'read' ? '?' : c.op === 'test' ? '=?' : '');
    const canned = this.p.vendor[vendorKey];
    if (canned) {
      if (this.p.periodicUrcs && vendorKey === this.p.periodicUrcs.disabledBy) this.periodicOn = false;
      if (vendorKey === '^CURC=1') this.periodicOn = true;
      return { lines: canned.map((l) => this.fill(l)) };
    }
    const ccidPrefix = this.p.ccid[c.name];
    if (ccidPrefix !== undefined && c.op !== 'test') {
      const bad = this.simCheck('cme');
      return bad ? { final: bad } : { lines: [`${ccidPrefix}${this.o.iccid}`] };
    }
    switch (c.name) {
      case 'E':
        if (c.raw === '0' && this.p.ignoresAte0) return OK;
        this.echo = c.raw !== '0';
        return OK;
      case 'V':
        this.verbose = c.raw !== '0';
        return OK;
      case 'Q':
      case 'X':
      case '&C':
      case '&D':
      case '&K':
      case '&S':
      case '&W':
      case 'L':
      case 'M':
        return OK;
      case 'Z':
      case '&F':
        this.echo = this.p.echoDefault;
        this.verbose = true;
        this.cmee = 0;
        this.cmgf = this.p.pduMode ? 0 : 1;
        return OK;
      case 'I':
        return { lines: this.p.ati.map((l) => this.fill(l)) };
      case 'D':
        return { final: { kind: 'text', text: 'NO CARRIER' } };
      case 'H':
      case 'A':
      case 'O':
        return c.name === 'H' ? OK : { final: { kind: 'text', text: 'NO CARRIER' } };
      case '+CGMI':
      case '+GMI':
        return c.op === 'test' ? OK : { lines: [this.p.manufacturer] };
      case '+CGMM':
      case '+GMM':
        return c.op === 'test' ? OK : { lines: [this.p.model] };
      case '+CGMR':
      case '+GMR':
        return c.op === 'test' ? OK : { lines: [this.p.revision] };
      case '+CGSN':
      case '+GSN':
        return c.op === 'test' ? OK : { lines: [this.o.imei] };
      case '+GCAP':
        return { lines: [this.p.gcap] };
      case '+CMEE':
        return this.intSetting(
          c,
          '+CMEE',
          [0, 2],
          () => this.cmee,
          (v) => (this.cmee = v),
        );
      case '+CSCS':
        if (c.op === 'read') return { lines: [`+CSCS: "${this.cscs}"`] };
        if (c.op === 'test') return { lines: ['+CSCS: ("IRA","GSM","UCS2")'] };
        if (c.op === 'set' && ['IRA', 'GSM', 'UCS2'].includes((c.args[0] ?? '').toUpperCase())) {
          this.cscs = (c.args[0] ?? '').toUpperCase();
          return OK;
        }
        return { final: { kind: 'cme', code: 4 } };
      case '+CPIN':
        return this.cpin(c);
      case '+CPINR':
      case '^CPIN':
      case '+QPINC':
      case '+SPIC':
        return this.pinTriesQuery(c);
      case '+CIMI':
        return this.simCheck('cme')
          ? { final: this.simCheck('cme') ?? { kind: 'error' } }
          : { lines: ['001010123456789'] };
      case '+CREG':
      case '+CGREG':
      case '+CEREG':
        return this.reg(c);
      case '+COPS':
        return this.cops(c);
      case '+CSQ':
        if (c.op === 'test') return { lines: ['+CSQ: (0-31,99),(0-7,99)'] };
        return {
          lines: [
            !this.noNetwork && this.cfun === 1 && this.regSince !== undefined
              ? `+CSQ: ${this.p.rssi},99`
              : '+CSQ: 99,99',
          ],
        };
      case '+CFUN':
        return this.cfunCmd(c);
      case '+CMGF':
        return this.cmgfCmd(c);
      case '+CSCA': {
        const bad = this.simCheck('cms') ?? this.smsBusy();
        if (bad) return { final: bad };
        // String parameters travel in the TE character set: hex UTF-16 after AT+CSCS="UCS2" (Gammu tests/at-smsc).
        if (c.op === 'read')
          return { lines: [`+CSCA: "${this.teString(this.smsc)}",${this.smsc.startsWith('+') ? 145 : 129}`] };
        if (c.op === 'set') this.smsc = this.fromTeString(c.args[0] ?? '');
        return OK;
      }
      case '+CSMP':
        if (c.op === 'read')
          return { lines: [`+CSMP: ${this.csmp.fo},${this.csmp.vp},${this.csmp.pid},${this.csmp.dcs}`] };
        if (c.op === 'set') {
          const [fo, vp, pid, dcs] = c.args.map((a) => (a === '' ? undefined : Number(a)));
          this.csmp = {
            fo: fo ?? this.csmp.fo,
            vp: vp ?? this.csmp.vp,
            pid: pid ?? this.csmp.pid,
            dcs: dcs ?? this.csmp.dcs,
          };
        }
        return OK;
      case '+CSDH':
        return OK;
      case '+CMGD':
        if (c.op === 'set') this.storedReports.delete(Number(c.args[0]));
        return OK;
      case '+CMGL':
        return this.simCheck('cms') ? { final: this.simCheck('cms') ?? { kind: 'error' } } : OK;
      case '+CMGR':
        return this.cmgr(c);
      case '+CPMS':
        if (c.op === 'read') return { lines: ['+CPMS: "SM",0,30,"SM",0,30,"SM",0,30'] };
        if (c.op === 'test') return { lines: ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")'] };
        return { lines: ['+CPMS: 0,30,0,30,0,30'] };
      case '+CNMI':
        return this.cnmiCmd(c);
      case '+CNMA':
        if (c.op === 'test') return OK;
        if (this.acksOutstanding > 0) {
          this.acksOutstanding--;
          return OK;
        }
        return { final: { kind: 'cms', code: 340 } };
      case '+CSMS':
        if (c.op === 'read') return { lines: [`+CSMS: ${this.csms},1,1,1`] };
        if (c.op === 'test') return { lines: ['+CSMS: (0,1)'] };
        if (c.op === 'set' && (c.args[0] === '0' || c.args[0] === '1')) {
          this.csms = Number(c.args[0]);
          return { lines: ['+CSMS: 1,1,1'] };
        }
        return { final: { kind: 'cms', code: 303 } };
      case '+CMMS':
        if (this.p.cmmsError !== undefined && c.op === 'set')
          return { final: { kind: 'cms', code: this.p.cmmsError } };
        return c.op === 'read' ? { lines: ['+CMMS: 0'] } : OK;
      case '+CMGS':
        return this.cmgs(c);
      case '+ZCDRUN':
        if (!this.p.requiresZteInit) return this.unknown();
        return { lines: ['Close autorun state result(0:FAIL 1:SUCCESS):1'] };
      case '+ZOPRT':
        if (!this.p.requiresZteInit) return this.unknown();
        if (c.op === 'read') return { lines: [`+ZOPRT: ${this.zteOnline ? 5 : 6}`] };
        if (c.op === 'set') {
          this.zteOnline = c.args[0] === '5';
          this.maybeStartRegistration();
          this.updateRegistration();
        }
        return OK;
      default:
        return this.unknown();
    }
  }

  private teString(s: string): string {
    if (this.cscs !== 'UCS2') return s;
    return [...s].map((ch) => (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')).join('');
  }

  private fromTeString(s: string): string {
    return this.cscs === 'UCS2' && /^([0-9A-Fa-f]{4})+$/.test(s) ? decodeTextModeBody(s, 'UCS2') : s;
  }

  private fill(line: string): string {
    return line.replace('{imei}', this.o.imei).replace('{iccid}', this.o.iccid);
  }

  private intSetting(
    c: AtCommand,
    name: string,
    range: [number, number],
    get: () => number,
    set: (v: number) => void,
  ): Outcome {
    if (c.op === 'read') return { lines: [`${name}: ${get()}`] };
    if (c.op === 'test') return { lines: [`${name}: (${range[0]}-${range[1]})`] };
    if (c.op === 'set') {
      if (c.args.length > 1) return this.tooMany();
      const v = Number(c.args[0]);
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) return { final: { kind: 'error' } };
      set(v);
    }
    return OK;
  }

  // ---- SIM --------------------------------------------------------------------------------

  private cpinWord(): string {
    return this.sim.word();
  }

  /** An error a SIM-dependent command gets now, or undefined when the SIM is usable. */
  private simCheck(kind: 'cme' | 'cms'): Final | undefined {
    return this.sim.error(kind);
  }

  private cpin(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    if (this.sim.dead) return { final: { kind: 'cme', code: 13 } };
    if (this.sim.busy) return { final: { kind: 'cme', code: 14 } };
    if (c.op === 'read' || c.op === 'exec') {
      if (this.sim.lock === 'blocked') return { final: { kind: 'cme', code: 13 } };
      const w = this.cpinWord();
      const line =
        this.p.cpinStyle === 'quoted'
          ? `+CPIN: "${w}"`
          : this.p.cpinStyle === 'nospace'
            ? `+CPIN:${w}`
            : `+CPIN: ${w}`;
      return this.p.cpinNoOk ? { lines: [line], final: { kind: 'none' } } : { lines: [line] };
    }
    const [code, newPin] = c.args;
    switch (this.sim.enter(code, newPin)) {
      case 'unlocked':
        this.simReady();
        return OK;
      case 'wrong':
        return { final: { kind: 'cme', code: 16 } };
      case 'blocked':
        return { final: { kind: 'cme', code: 13 } };
      case 'not-locked':
        return { final: { kind: 'cme', code: 3 } };
    }
  }

  private simReady(): void {
    this.sim.busyUntil = this.now() + this.p.simBusyAfterPinMs;
    this.maybeStartRegistration();
    for (const u of this.p.bootUrcs) if (u.afterSimReady) this.later(u.afterMs, () => this.urc(u.line));
  }

  private pinTriesQuery(c: AtCommand): Outcome {
    const kind = c.name as SimProfile['pinTries'][number];
    if (!this.p.pinTries.includes(kind)) return this.unknown();
    if (c.op === 'test') return OK;
    if (this.sim.dead) return { final: { kind: 'cme', code: 13 } };
    const pin = this.sim.pinTriesLeft;
    switch (kind) {
      case '+CPINR': {
        const all = [
          `+CPINR: SIM PIN,${pin},3`,
          `+CPINR: SIM PUK,${this.sim.pukTries},10`,
          '+CPINR: SIM PIN2,3,3',
          '+CPINR: SIM PUK2,10,10',
        ];
        const want = (c.args[0] ?? '').toUpperCase();
        return { lines: want === '' ? all : all.filter((l) => l.startsWith(`+CPINR: ${want},`)) };
      }
      case '^CPIN':
        return {
          lines: [
            `^CPIN: ${this.cpinWord()},${this.sim.lock === 'ready' ? '' : this.sim.lock === 'pin' ? pin : this.sim.pukTries},${this.sim.pukTries},${pin},10,3`,
          ],
        };
      case '+QPINC':
        return { lines: [`+QPINC: "SC",${pin},${this.sim.pukTries}`, '+QPINC: "P2",3,10'] };
      case '+SPIC':
        return { lines: [`+SPIC: ${pin},${this.sim.pukTries},3,10`] };
    }
  }

  // ---- network ----------------------------------------------------------------------------

  private maybeStartRegistration(): void {
    const can = this.cfun === 1 && this.sim.usable && (!this.p.requiresZteInit || this.zteOnline);
    if (!can) {
      this.regSince = undefined;
      return;
    }
    if (this.regSince !== undefined) return;
    this.regSince = this.now();
    this.updateRegistration();
    const at = Math.max(this.regSince + this.p.registerAfterMs, this.sim.busyUntil);
    // Timers may fire a little before the monotonic clock says so: check, and wait again if early.
    const check = (): void => {
      if (this.now() < at) this.later(Math.max(1, at - this.now()), check);
      else this.updateRegistration();
    };
    this.later(Math.max(1, at - this.now()), check);
  }

  private stat(kind: 'creg' | 'cgreg' | 'cereg'): number {
    if (this.regSince === undefined || this.sim.dead || this.cfun !== 1) return 0;
    if (this.noNetwork) return 2;
    const forced = this.forcedStat?.[kind];
    if (forced !== undefined) return forced;
    if (this.sim.busy || this.now() - this.regSince < this.p.registerAfterMs)
      return this.p.regStat[kind] === 0 ? 0 : 2;
    return this.p.regStat[kind];
  }

  private registered(): boolean {
    return [this.stat('creg'), this.stat('cgreg'), this.stat('cereg')].some(
      (s) => s === 1 || s === 5 || s === 6 || s === 7,
    );
  }

  /** Whether the network takes SMS: circuit-switched (CREG) or SMS over LTE (CEREG incl. SMS only). */
  private smsCapable(): boolean {
    const creg = this.stat('creg');
    const cereg = this.stat('cereg');
    return (
      creg === 1 ||
      creg === 5 ||
      cereg === 1 ||
      cereg === 5 ||
      cereg === 6 ||
      cereg === 7 ||
      this.stat('cgreg') === 1
    );
  }

  private updateRegistration(): void {
    for (const kind of ['creg', 'cgreg', 'cereg'] as const) {
      const s = this.stat(kind);
      if (s === this.lastStat[kind]) continue;
      this.lastStat[kind] = s;
      const n = this.regN[kind];
      if (n >= 1) this.urc(this.regLine(kind, n, true));
    }
  }

  private regLine(kind: 'creg' | 'cgreg' | 'cereg', n: number, unsolicited: boolean): string {
    const name = `+${kind.toUpperCase()}`;
    const s = this.stat(kind);
    const loc =
      n >= 2 && (s === 1 || s === 5 || s === 6 || s === 7) ? `,"00A1","0001ABCD",${ACT[this.p.rat]}` : '';
    return unsolicited ? `${name}: ${s}${loc}` : `${name}: ${n},${s}${loc}`;
  }

  private reg(c: AtCommand): Outcome {
    const kind = c.name.slice(1).toLowerCase() as 'creg' | 'cgreg' | 'cereg';
    if (c.op === 'test') return { lines: [`${c.name}: (0-2)`] };
    if (c.op === 'read') return { lines: [this.regLine(kind, this.regN[kind], false)] };
    if (c.op === 'set') {
      const n = Number(c.args[0]);
      if (c.args.length > 1) return this.tooMany();
      if (!Number.isInteger(n) || n < 0 || n > 2) return { final: { kind: 'cme', code: 3 } };
      this.regN[kind] = n;
      return OK;
    }
    return { lines: [this.regLine(kind, this.regN[kind], false)] };
  }

  private cops(c: AtCommand): Outcome {
    if (c.op === 'test')
      return { lines: [`+COPS: (2,"${this.p.operator}","MFA","00101",${ACT[this.p.rat]}),,(0-4),(0-2)`] };
    if (c.op === 'set') return OK;
    return { lines: [this.registered() ? `+COPS: 0,0,"${this.p.operator}",${ACT[this.p.rat]}` : '+COPS: 0'] };
  }

  private cfunCmd(c: AtCommand): Outcome {
    if (c.op === 'read') return { lines: [`+CFUN: ${this.cfun}`] };
    if (c.op === 'test') return { lines: ['+CFUN: (0,1,4),(0-1)'] };
    if (c.op !== 'set') return { final: { kind: 'error' } };
    const fun = Number(c.args[0]);
    const reset = c.args[1] === '1';
    if (![0, 1, 4].includes(fun)) return { final: { kind: 'cme', code: 4 } };
    if (reset)
      return {
        after: () => {
          if (this.p.resetDropsAtPort) {
            this.later(50, () => this.o.unplug('forever'));
            return;
          }
          this.later(50, () => this.reboot());
        },
      };
    this.cfun = fun;
    this.maybeStartRegistration();
    this.updateRegistration();
    return OK;
  }

  private smsBusy(): Final | undefined {
    return this.now() < this.smsBusyUntil ? { kind: 'cms', code: 314 } : undefined;
  }

  private cmgfCmd(c: AtCommand): Outcome {
    const modes = [...(this.p.pduMode ? [0] : []), ...(this.p.textMode ? [1] : [])];
    if (c.op === 'read') return { lines: [`+CMGF: ${this.cmgf}`] };
    if (c.op === 'test') return { lines: [`+CMGF: (${modes.join(',')})`] };
    if (c.op === 'set') {
      if (c.args.length > 1) return this.tooMany();
      const busy = this.smsBusy();
      if (busy) return { final: busy };
      const v = Number(c.args[0]);
      if (!modes.includes(v)) return { final: { kind: 'error' } };
      this.cmgf = v;
    }
    return OK;
  }

  private cnmiCmd(c: AtCommand): Outcome {
    if (c.op === 'read') return { lines: [`+CNMI: ${this.cnmi.join(',')}`] };
    if (c.op === 'test') return { lines: ['+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)'] };
    if (c.op !== 'set') return OK;
    const v = c.args.map((a) => (a === '' ? 0 : Number(a)));
    const max = [2, 3, 3, 2, 1];
    if (v.length > 5) return this.tooMany();
    if (v.some((x, i) => !Number.isInteger(x) || x < 0 || x > (max[i] ?? 0)))
      return { final: { kind: 'cms', code: 303 } };
    if (this.p.rejectsCnmiDs1 && v[3] === 1) return { final: { kind: 'cms', code: 303 } };
    this.cnmi = [0, 1, 2, 3, 4].map((i) => v[i] ?? this.cnmi[i] ?? 0);
    return OK;
  }

  // ---- sending ----------------------------------------------------------------------------

  private cmgs(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    if (c.op !== 'set') return { final: { kind: 'cms', code: this.cmgf === 0 ? 304 : 305 } };
    const bad = this.simCheck('cms');
    if (bad) return { final: bad };
    if (this.cmgf === 0) {
      const len = Number(c.args[0]);
      if (c.args.length > 1 || !Number.isInteger(len) || len < 1 || len > 164)
        return { final: { kind: 'cms', code: 304 } };
      this.o.event('cmgs-command', { length: len });
      return { prompt: { mode: 'pdu', length: len } };
    }
    const to = this.fromTeString(c.args[0] ?? '');
    if (!/^\+?[0-9*#]{1,20}$/.test(to)) return { final: { kind: 'cms', code: 305 } };
    this.o.event('cmgs-command', { to });
    return { prompt: { mode: 'text', to } };
  }

  private enterPrompt(p: NonNullable<Outcome['prompt']>): void {
    this.prompt = p;
    this.mode = p.mode;
    this.body = '';
    this.write('\r\n> ');
    this.o.event('prompt');
  }

  private submit(): void {
    const p = this.prompt;
    const body = this.body;
    this.body = '';
    this.mode = 'sending';
    if (!p) return this.finishSend({ kind: 'cms', code: 304 });
    this.o.event('submit-start', p.mode === 'pdu' ? { length: p.length, hex: body } : { to: p.to });
    let part: Parameters<HandsetInbox['deliver']>[0];
    if (p.mode === 'pdu') {
      const hex = body.replace(/\s+/g, '');
      let decoded: ReturnType<typeof decodeSubmit>;
      try {
        decoded = decodeSubmit(hex, { hasSmsc: true });
      } catch {
        this.later(20, () => this.finishSend({ kind: 'cms', code: 304 }));
        return;
      }
      if (decoded.tpduLength !== p.length) {
        this.later(20, () => this.finishSend({ kind: 'cms', code: 304 }));
        return;
      }
      part = {
        to: decoded.to,
        text: decoded.text,
        flash: decoded.flash,
        encoding: decoded.encoding,
        messageReference: 0,
        statusReport: decoded.statusReport,
        ...(decoded.concat ? { concat: decoded.concat } : {}),
        ...(decoded.validitySeconds !== undefined ? { validitySeconds: decoded.validitySeconds } : {}),
      };
    } else {
      part = {
        to: p.to,
        text: decodeTextModeBody(body, this.cscs),
        flash: (this.csmp.dcs & 0x13) === 0x10,
        encoding: 'text-mode',
        messageReference: 0,
        statusReport: (this.csmp.fo & 0x20) !== 0,
        ...((this.csmp.fo & 0x18) === 0x10 ? { validitySeconds: vpToSeconds(this.csmp.vp) } : {}),
      };
    }

    if (!this.smsCapable()) {
      this.later(100, () => this.finishSend({ kind: 'cms', code: 331 }));
      return;
    }
    const mid = this.midSend;
    if (mid) {
      this.midSend = undefined;
      this.later(this.o.smsDelayMs / 2, () => {
        if (mid.delivered === true) this.deliver(part);
        this.o.event('submit-failed', { fault: mid.kind, delivered: mid.delivered === true });
        if (mid.kind === 'reboot-mid-send') this.reboot();
        else this.o.unplug(mid.ms);
      });
      return;
    }
    this.later(this.o.smsDelayMs, () => {
      if (this.hung) {
        // The message is lost with the hang; once cleared the modem takes commands again.
        this.mode = 'command';
        return;
      }
      if (this.p.smsRefusedCode !== undefined && this.stat('creg') !== 1 && this.stat('creg') !== 5)
        return this.finishSend({ kind: 'cms', code: this.p.smsRefusedCode });
      const f = this.cmsFault;
      if (f) {
        if (!f.always) this.cmsFault = undefined;
        return this.finishSend({ kind: 'cms', code: f.code });
      }
      const mr = this.deliver(part);
      this.finishSend(undefined, mr, part);
    });
  }

  private deliver(part: Parameters<HandsetInbox['deliver']>[0]): number {
    const mr = this.mr;
    this.mr = (this.mr + 1) & 0xff;
    this.o.handset.deliver({ ...part, messageReference: mr });
    return mr;
  }

  private finishSend(
    error: Final | undefined,
    mr?: number,
    part?: Parameters<HandsetInbox['deliver']>[0],
  ): void {
    this.mode = 'command';
    if (error) {
      this.o.event('submit-failed', { final: error.kind === 'cms' ? error.code : error.kind });
      this.respond([], error);
      return;
    }
    this.o.event('submit-done', { mr, to: part?.to });
    this.respond([`+CMGS: ${mr ?? 0}`], { kind: 'ok' });
    if (part?.statusReport && mr !== undefined) this.scheduleStatusReport(mr, part.to);
  }

  private scheduleStatusReport(mr: number, to: string): void {
    const ds = this.cnmi[3] ?? 0;
    if (ds === 0) return;
    this.later(Math.max(50, Math.min(this.o.smsDelayMs, 2000)), () => {
      const status = this.reportStatus;
      this.o.event('status-report', { mr, ds, status });
      const now = new Date();
      if (ds === 2) {
        // Stored in SR memory, announced by index; the host reads it with +CMGR and deletes it.
        const index = this.cdsIndex++;
        this.storedReports.set(index, { mr, to, status, at: now });
        this.urc(`+CDSI: "SR",${index}`);
        return;
      }
      if (this.csms === 1) this.acksOutstanding++;
      if (this.cmgf === 0) {
        const r = this.reportPdu(mr, to, status, now);
        this.urc(`+CDS: ${r.tpduLength}\r\n${r.hex}`);
      } else this.urc(`+CDS: ${this.reportText(mr, to, status, now)}`);
    });
  }

  private reportPdu(mr: number, to: string, status: number, at: Date): { hex: string; tpduLength: number } {
    return encodeStatusReport({
      messageReference: mr,
      recipient: to,
      status,
      submittedAt: at,
      dischargedAt: at,
      smsc: this.smsc.startsWith('+') ? this.smsc : '',
    });
  }

  private reportText(mr: number, to: string, status: number, at: Date): string {
    const ts = scts(at);
    return `6,${mr},"${to}",${to.startsWith('+') ? 145 : 129},"${ts}","${ts}",${status}`;
  }

  private cmgr(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    const bad = this.simCheck('cms');
    if (bad) return { final: bad };
    const index = Number(c.args[0]);
    const r = this.storedReports.get(index);
    if (!r) return { final: { kind: 'cms', code: 321 } };
    if (this.cmgf === 0) {
      const p = this.reportPdu(r.mr, r.to, r.status, r.at);
      return { lines: [`+CMGR: 0,,${p.tpduLength}`, p.hex] };
    }
    return { lines: [`+CMGR: "REC UNREAD",${this.reportText(r.mr, r.to, r.status, r.at)}`] };
  }

  // ---- timers -----------------------------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Hides the SIM PIN and PUK in command lines kept in the event log. */
export function redact(line: string): string {
  return line.replace(
    /(\+CPIN\s*=\s*|\+CLCK\s*=\s*"[A-Z]+"\s*,\s*\d\s*,\s*|\+CPWD\s*=\s*)[^;]*/gi,
    '$1<redacted>',
  );
}

function scts(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())},${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}+00`;
}
