/**
 * The simulated modem's state, its wire (bytes in → command lines, replies and URCs out) and its
 * timers: the layer the SIM, network and SMS layers (engine-network.ts, engine-sms.ts) and the
 * command table (engine.ts) build on.
 */
import { decodeTextModeBody, ucs2Hex } from '../pdu/index.ts';
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

export interface Outcome {
  lines?: string[];
  final?: Final;
  prompt?: { mode: 'pdu'; length: number } | { mode: 'text'; to: string };
  after?: () => void;
}

export const OK: Outcome = {};
const CTRL_Z = 0x1a;
const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;

/** SIM busy (+CME ERROR: 14) after any restart, at least. */
export const RESTART_SIM_BUSY_MS = 500;

export const ACT: Record<SimProfile['rat'], number> = { gsm: 0, umts: 2, lte: 7 };

export abstract class EngineBase {
  protected readonly p: SimProfile;
  protected readonly now: () => number;
  protected timers = new Set<NodeJS.Timeout>();

  // Settings that a reboot or ATZ resets.
  protected echo = true;
  protected verbose = true;
  protected cmee = 0;
  protected cmgf = 0;
  protected cscs = 'IRA';
  protected csmp = { fo: 17, vp: 167, pid: 0, dcs: 0 };
  protected cnmi = [0, 0, 0, 0, 0];
  protected csms = 0;
  protected regN = { creg: 0, cgreg: 0, cereg: 0 };
  protected cfun = 1;
  protected zteOnline = false;
  protected periodicOn = true;
  protected smsc = '+15550009999';

  // The SIM keeps its counters across reboots, as a real card does.
  protected readonly sim: SimCard;
  protected regSince: number | undefined;
  protected lastStat = { creg: -1, cgreg: -1, cereg: -1 };

  // Wire state.
  protected mode: 'command' | 'pdu' | 'text' | 'sending' = 'command';
  protected line = '';
  protected lastLine = '';
  protected body = '';
  protected prompt: Outcome['prompt'];
  protected queuedLines: string[] = [];
  protected queuedUrcs: string[] = [];
  protected replies = 0;
  protected mr = 0;
  protected cdsIndex = 1;
  protected readonly storedReports = new Map<number, { mr: number; to: string; status: number; at: Date }>();
  /** TP-ST the simulated network reports (0 = delivered); set with the 'status-report' fault. */
  protected reportStatus = 0;
  protected acksOutstanding = 0;

  // Faults.
  protected hung = false;
  protected smsBusyUntil = 0;
  protected noNetwork = false;
  protected cmsFault: { code: number; always: boolean } | undefined;
  protected midSend: Extract<Fault, { kind: 'reboot-mid-send' | 'unplug-mid-send' }> | undefined;
  protected replyUrc: { line: string; mode: 'between' | 'mid-line' } | undefined;
  protected forcedStat: Partial<Record<'creg' | 'cgreg' | 'cereg', number>> | undefined;
  protected stopped = false;

  constructor(protected readonly o: EngineOptions) {
    this.p = o.profile;
    this.now = o.now ?? (() => performance.now());
    this.sim = new SimCard(
      o.pin ?? (o.profile.pinRequired ? '1234' : undefined),
      o.puk ?? '12345678',
      this.now,
    );
  }

  /** The command table (engine.ts). */
  protected abstract execute(c: AtCommand): Outcome;
  /** Ctrl-Z on a prompt: the SMS layer (engine-sms.ts). */
  protected abstract submit(): void;
  protected abstract enterPrompt(p: NonNullable<Outcome['prompt']>): void;
  /** A restart, as AT+CFUN=1,1 or a fault makes one (engine.ts). */
  abstract reboot(): void;

  // ---- wire -------------------------------------------------------------------------------

  protected byte(b: number): void {
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

  protected write(s: string): void {
    if (this.stopped || this.hung || s === '') return;
    this.o.write(s);
  }

  protected urc(line: string): void {
    if (line === '') return;
    if (this.mode !== 'command' && this.p.urcInReply === undefined) {
      this.queuedUrcs.push(line);
      return;
    }
    this.o.event('urc', { line: line.split('\r\n')[0] });
    this.write(`\r\n${line}\r\n`);
  }

  protected afterFinal(): void {
    const urcs = this.queuedUrcs;
    this.queuedUrcs = [];
    for (const u of urcs) this.urc(u);
    while (this.mode === 'command' && this.queuedLines.length > 0)
      this.commandLine(this.queuedLines.shift() ?? '');
  }

  // ---- command lines ----------------------------------------------------------------------

  protected commandLine(raw: string): void {
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

  protected respond(lines: string[], final: Final | undefined): void {
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

  protected replyInjection(): { line: string; mode: 'between' | 'mid-line' } | undefined {
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

  protected finalText(f: Final): string {
    return formatFinal(f, this.verbose, this.cmee);
  }

  protected unknown(): Outcome {
    return {
      final:
        this.p.unknownFinal === 'ERROR' ? { kind: 'error' } : { kind: 'text', text: this.p.unknownFinal },
    };
  }

  protected tooMany(): Outcome {
    return {
      final: this.p.tooManyParamsFinal
        ? { kind: 'text', text: this.p.tooManyParamsFinal }
        : { kind: 'error' },
    };
  }

  protected teString(s: string): string {
    return this.cscs === 'UCS2' ? ucs2Hex(s) : s;
  }

  protected fromTeString(s: string): string {
    return this.cscs === 'UCS2' && /^([0-9A-Fa-f]{4})+$/.test(s) ? decodeTextModeBody(s, 'UCS2') : s;
  }

  protected fill(line: string): string {
    return line.replace('{imei}', this.o.imei).replace('{iccid}', this.o.iccid);
  }

  protected intSetting(
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

  // ---- timers -----------------------------------------------------------------------------

  protected later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  protected clearTimers(): void {
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
