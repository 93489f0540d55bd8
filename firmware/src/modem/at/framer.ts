/**
 * The AT framer: raw modem bytes → events. Pure (no IO, no timers), so it is tested by feeding the
 * same fixture split at every byte and asserting identical events.
 *
 * Why raw bytes and not a readline parser: the `> ` prompt of AT+CMGS has no line ending, URCs
 * arrive in the middle of replies (sometimes in the middle of a line), two-line URCs carry their
 * PDU on the next line, and some modems echo commands even after ATE0.
 *
 * The framer needs one piece of context from the channel: what is in flight (`expect`). With it,
 * it tells the echo of the command from its reply, a solicited `+CREG: 0,1` (reply to AT+CREG?)
 * from the unsolicited `+CREG: 1`, and knows when a `>` at the start of a line is the prompt.
 */

/** How a command ended. `ok` false carries what the modem said, classified by at/errors.ts. */
export type FinalResult =
  | { ok: true; text: 'OK' }
  | {
      ok: false;
      /** plain ERROR, +CME ERROR, +CMS ERROR, or a vendor/V.250 word (COMMAND NOT SUPPORT, NO CARRIER…). */
      family: 'error' | 'cme' | 'cms' | 'vendor';
      /** Numeric code when the modem gave one (AT+CMEE=1); undefined for word forms. */
      code?: number;
      /** The modem's words after the colon (or the whole line for plain/vendor finals). */
      text: string;
    };

export type FramerEvent =
  /** An information-text line of the reply to the command in flight (or a stray line when idle). */
  | { type: 'line'; text: string; solicited: boolean }
  /** The modem echoed what we wrote (the command, or the PDU typed at the prompt). */
  | { type: 'echo'; text: string }
  /** The `> ` prompt of AT+CMGS / AT+CMGW: write the PDU now. */
  | { type: 'prompt' }
  | { type: 'final'; result: FinalResult; line: string }
  /**
   * An unsolicited result code. `name` is its prefix (`+CMTI`, `^RSSI`, `RDY`, `SMS Ready`…);
   * `data` is the second line of a two-line URC (+CMT, +CDS in PDU mode, +CBM).
   */
  | { type: 'urc'; name: string; line: string; data?: string };

export interface Expectation {
  /** The command line as written, without the trailing CR (e.g. `AT+CMGS=23`), or the PDU hex. */
  echo?: string;
  /** True while a `>` prompt is possible (AT+CMGS, AT+CMGW). */
  prompt?: boolean;
}

/** Prefixes that are always unsolicited, whatever is in flight. */
const URC_PREFIXES: readonly string[] = [
  '+CMTI:',
  '+CDSI:',
  '+CMT:',
  '+CDS:',
  '+CBM:',
  '+CBMI:',
  '+CIEV:',
  '+CRING:',
  '+CLIP:',
  '+CGEV:',
  '+CTZV:',
  '+CTZE:',
  '+CTZEU:',
  '+CUSD:',
  '+QIND:',
  '+QUSIM:',
  '+PACSP',
  '+STIN:',
  '+ZPASR:',
  '+ZUSIMR:',
  '+ZEND',
  '+SYSSTART',
  '^SYSSTART',
  '^RSSI:',
  '^HCSQ:',
  '^BOOT:',
  '^SIMST:',
  '^SRVST:',
  '^MODE:',
  '^DSFLOWRPT:',
  '^NWTIME:',
  '^CEND:',
  '^CONN:',
  '^ORIG:',
  '^CONF:',
  '^STIN:',
  '^SMMEMFULL:',
  '^ACTIVEBAND:',
  '^RFSWITCH:',
  '#STN:',
];

/** Whole-line URCs with no colon. */
const URC_WORDS: readonly string[] = [
  'RDY',
  'RING',
  'SMS Ready',
  'Call Ready',
  'PB DONE',
  'SMS DONE',
  'NORMAL POWER DOWN',
  'UNDER-VOLTAGE POWER DOWN',
  'UNDER-VOLTAGE WARNNING',
  'OVER-VOLTAGE POWER DOWN',
  'OVER-VOLTAGE WARNNING',
  'POWERED DOWN',
  '+PACSP0',
  '+PACSP1',
];

/**
 * Prefixes that are a reply when the command in flight asked for them and a URC otherwise
 * (+CPIN: READY after boot, +CFUN: 1, network registration changes). +CPINR is only ever a reply
 * in 27.007; listing it here keeps a late one out of another command's reply. Listed as an
 * always-URC it swallowed the tries-left count, and the driver then spent a SIM's last PIN try.
 */
const CONTEXT_PREFIXES: readonly string[] = [
  '+CREG:',
  '+CGREG:',
  '+CEREG:',
  '+C5GREG:',
  '+CPINR:',
  '+CPIN:',
  '+CFUN:',
  '*EMRDY:',
];

/** Registration replies have `<n>,<stat>` first; the URC forms start with `<stat>` alone or a quoted LAC. */
const SOLICITED_REG = /^\+C(?:G|E|5G)?REG: ?\d+,\d+(?:,|$)/;

/** URCs glued to the end of another line (no CRLF between): only names that never occur in reply text. */
const GLUE_SPLIT =
  /(\+CMTI:|\+CDSI:|\^RSSI:|\^HCSQ:|\^BOOT:|\^SIMST:|\^SRVST:|\^MODE:|\+QIND:|\+QUSIM:|\^DSFLOWRPT:)/;

const VENDOR_FINALS: readonly string[] = [
  'NO CARRIER',
  'NO DIALTONE',
  'NO DIAL TONE',
  'NO ANSWER',
  'BUSY',
  'COMMAND NOT SUPPORT',
  'TOO MANY PARAMETERS',
];

/** The URC prefix of a line, or undefined when the line is not a URC in any context. */
function urcName(text: string): string | undefined {
  for (const w of URC_WORDS) if (text === w) return w;
  for (const p of URC_PREFIXES) if (text.startsWith(p)) return p.endsWith(':') ? p.slice(0, -1) : p;
  return undefined;
}

/**
 * Whether the command names this verb exactly: AT+CPINR="SIM PIN" asks for +CPINR, not for
 * +CPIN (a `+CPIN: READY` URC arriving during it stays a URC).
 */
function asksFor(cmd: string, name: string): boolean {
  for (let i = cmd.indexOf(name); i >= 0; i = cmd.indexOf(name, i + 1)) {
    const next = cmd.charAt(i + name.length);
    if (!/[A-Z0-9]/.test(next)) return true;
  }
  return false;
}

function contextName(text: string): string | undefined {
  for (const p of CONTEXT_PREFIXES) if (text.startsWith(p)) return p.slice(0, -1);
  return undefined;
}

/** Parses a final result code line, or returns undefined. Exported for at/errors tests. */
export function parseFinal(text: string): FinalResult | undefined {
  if (text === 'OK' || text === '0') return { ok: true, text: 'OK' };
  if (text === 'ERROR' || text === '4') return { ok: false, family: 'error', text: 'ERROR' };
  const m = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(text);
  if (m) {
    const family = m[1] === 'CME' ? 'cme' : 'cms';
    const rest = (m[2] ?? '').trim();
    if (/^\d+$/.test(rest)) return { ok: false, family, code: Number(rest), text: rest };
    return { ok: false, family, text: rest };
  }
  if (text.startsWith('MODEM ERROR:')) {
    const rest = text.slice('MODEM ERROR:'.length).trim();
    return /^\d+$/.test(rest)
      ? { ok: false, family: 'vendor', code: Number(rest), text }
      : { ok: false, family: 'vendor', text };
  }
  if (VENDOR_FINALS.includes(text)) return { ok: false, family: 'vendor', text };
  return undefined;
}

/** Text with control characters the modem may echo at the prompt (ESC, Ctrl-Z, NUL) removed. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').trim();
}

/**
 * Line terminators between two pieces of content, counted so that CRLF is one and a blank line
 * makes two. Used to tell a URC injected in the middle of a line (one terminator on each side)
 * from a URC between two lines (a blank line on at least one side).
 */
function terminators(run: string): number {
  let cr = 0;
  let lf = 0;
  for (const c of run) {
    if (c === '\r') cr++;
    else lf++;
  }
  return Math.max(cr, lf);
}

export class AtFramer {
  private buf = '';
  /** Break characters seen since the last content, to count terminators. */
  private breakRun = '';
  private sepBefore = 0;
  private atLineStart = true;
  private swallowSpace = false;
  private expecting: Expectation | null = null;
  /** A reply line held until the next line shows whether a URC split it in two. */
  private pending: string | undefined;
  /** Set after a URC that followed `pending` with one terminator: the next line may continue it. */
  private mayContinue = false;
  /** A two-line URC header waiting for its data line. */
  private twoLine: { name: string; line: string } | undefined;

  /** Tells the framer what was just written (or null when nothing is in flight). */
  expect(e: Expectation | null): void {
    this.expecting = e;
  }

  get inFlight(): boolean {
    return this.expecting !== null;
  }

  /** Feeds bytes (latin1: one char per byte, so a split never breaks a character). */
  push(chunk: Buffer | string): FramerEvent[] {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const out: FramerEvent[] = [];
    for (const c of s) {
      if (c === '\r' || c === '\n') {
        if (this.buf.length > 0) this.endLine(out);
        this.breakRun += c;
        this.atLineStart = true;
        this.swallowSpace = false;
        continue;
      }
      if (this.swallowSpace) {
        this.swallowSpace = false;
        if (c === ' ') continue;
      }
      if (this.atLineStart && this.buf.length === 0) {
        this.sepBefore = terminators(this.breakRun);
        this.breakRun = '';
        if (c === '>' && this.expecting?.prompt && !this.twoLine) {
          this.flushPending(out);
          this.mayContinue = false;
          out.push({ type: 'prompt' });
          this.swallowSpace = true;
          // Whatever follows on the prompt line is the modem echoing the PDU we type.
          this.atLineStart = false;
          continue;
        }
      }
      this.atLineStart = false;
      this.buf += c;
    }
    // Some modems send the final of a prompt-less send or an echo without CR; nothing to do
    // until the terminator arrives: a partial line is never emitted, so splits cannot matter.
    return out;
  }

  /**
   * Emits a held reply line. The channel calls this when it must decide without waiting for the
   * next line (a timeout, or +CPIN? on modems that send no final OK).
   */
  flush(): FramerEvent[] {
    const out: FramerEvent[] = [];
    this.flushPending(out);
    return out;
  }

  private flushPending(out: FramerEvent[]): void {
    if (this.pending !== undefined) {
      // A held line may be an echo that a URC cut in two and the merge made whole again.
      out.push(
        this.isEcho(this.pending)
          ? { type: 'echo', text: this.pending }
          : { type: 'line', text: this.pending, solicited: true },
      );
      this.pending = undefined;
    }
  }

  private isEcho(text: string): boolean {
    const echo = this.expecting?.echo;
    return echo !== undefined && text.toUpperCase() === clean(echo).toUpperCase();
  }

  private endLine(out: FramerEvent[]): void {
    const raw = this.buf;
    this.buf = '';
    const text = clean(raw);
    if (text.length === 0) return;
    const sep = this.sepBefore;

    if (this.twoLine) {
      const head = this.twoLine;
      this.twoLine = undefined;
      out.push({ type: 'urc', name: head.name, line: head.line, data: text });
      return;
    }

    // A URC glued to the end of another line with no CRLF ("+CME ERROR: 25+CMTI: …").
    const glue = GLUE_SPLIT.exec(text);
    if (glue && glue.index > 0) {
      this.classify(text.slice(0, glue.index), sep, out);
      this.classify(text.slice(glue.index), 0, out);
      return;
    }
    this.classify(text, sep, out);
  }

  private classify(text: string, sep: number, out: FramerEvent[]): void {
    const exp = this.expecting;

    if (this.isEcho(text)) {
      out.push({ type: 'echo', text });
      return;
    }

    const final = parseFinal(text);
    if (final) {
      this.flushPending(out);
      this.mayContinue = false;
      out.push({ type: 'final', result: final, line: text });
      return;
    }

    const name = urcName(text) ?? this.contextUrc(text);
    if (name !== undefined) {
      if (name === '+CMT' || name === '+CBM' || (name === '+CDS' && /^\+CDS: ?\d+$/.test(text))) {
        this.twoLine = { name, line: text };
      } else {
        out.push({ type: 'urc', name, line: text });
      }
      // A URC right after a held reply line, with one terminator, may have cut that line in two.
      this.mayContinue = this.pending !== undefined && sep === 1;
      return;
    }

    if (exp === null) {
      out.push({ type: 'line', text, solicited: false });
      return;
    }

    if (this.mayContinue && sep === 1 && this.pending !== undefined) {
      this.pending += text;
      this.mayContinue = false;
      return;
    }
    this.mayContinue = false;
    this.flushPending(out);
    this.pending = text;
  }

  /** +CREG/+CPIN/+CFUN…: a URC unless the command in flight asked for it. */
  private contextUrc(text: string): string | undefined {
    const name = contextName(text);
    if (name === undefined) return undefined;
    const cmd = this.expecting?.echo?.toUpperCase();
    if (cmd === undefined || !asksFor(cmd, name)) return name;
    if (name.endsWith('REG') && !SOLICITED_REG.test(text)) return name;
    return undefined;
  }
}
