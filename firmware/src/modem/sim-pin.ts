/**
 * SIM/PIN safety, the only modem code that touches the store. A PIN is entered at most once per
 * PIN setting when the SIM rejects it or cannot tell whether an entry counted, never with the last
 * try left, and the record of a rejected or unclear entry survives restarts: a keyed hash of the
 * PIN (HMAC with a key kept outside the store), never the PIN.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { deriveSubkey } from '../store/device-key.ts';
import type { Store, Table } from '../store/store.ts';
import { classifyFinal, isSimBusy } from './at/errors.ts';
import { parseCpin, parseTriesLeft } from './at/replies.ts';
import type { AtCommands, AtResponse } from './channel.ts';
import type { ModemProfile } from './profiles.ts';
import type { ModemState } from './types.ts';

interface PinRejection {
  /**
   * `h2:` + HMAC-SHA256(sim-pin subkey of pinKey, salt:pin); `h1:` the same keyed with pinKey
   * itself (earlier releases); or (written before the key, or without one)
   * sha256(salt:pin): tells whether the configured PIN changed since, without storing it.
   */
  hash: string;
  salt: string;
  at: number;
  triesLeft?: number;
  /**
   * Only on an unclear-entry marker (`pin-unclear:` key): why the entry failed. Stored because a
   * SIM that cannot report its tries left would otherwise get one more entry per service start.
   */
  reason?: string;
  /** Only on an unclear-entry marker: the tries left just before that entry, when the SIM said. */
  triesBefore?: number;
}

/**
 * The last PIN entry that failed without the SIM rejecting it (also stored, see noteUnclear):
 * the next try checks whether the SIM counted it after all, and a SIM that cannot tell its tries
 * left is not given a second one until the PIN setting changes.
 */
interface UnclearPin {
  key: string;
  salt: string;
  hash: string;
  reason: string;
  triesBefore?: number;
  /** Unclear failures in a row, and when the next entry may be made (monotonic ms). */
  attempts: number;
  retryAt: number;
}

/** What the PIN logic needs from its modem: its commands, its profile and its health state. */
export interface SimPinHost extends AtCommands {
  readonly profile: ModemProfile | undefined;
  setState(state: ModemState, detail?: string): void;
}

export interface SimPinOptions {
  store: Pick<Store, 'table'>;
  clock: Clock;
  log: Logger;
  /**
   * A secret kept outside the store (the appliance passes its device key): the rejected-PIN
   * marker is an HMAC with it, so a copy of the database does not give the PIN away (a salted
   * hash of a 4–8 digit PIN falls to brute force in seconds).
   */
  pinKey?: Buffer;
  /** ModemTimings.simBusyMax: longest wait for SIM busy (CME 14) to clear, ms. */
  simBusyMax: number;
  /** ModemTimings.pollRegistered: the base of the backoff between unclear entries, ms. */
  pollRegistered: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SimPin {
  private readonly table: Table<PinRejection>;
  private host: SimPinHost | undefined;
  private unclearPin: UnclearPin | undefined;

  constructor(private readonly opts: SimPinOptions) {
    this.table = opts.store.table<PinRejection>('modem-state');
  }

  private get at(): SimPinHost {
    if (!this.host) throw new MfaError('SIM PIN: no modem', ErrorCode.ModemClosed);
    return this.host;
  }

  private get log(): Logger {
    return this.opts.log;
  }

  /**
   * +CPIN? with SIM-busy wait; PIN entry with the never-spend-the-last-try rule. True when the
   * SIM is ready; otherwise the modem's state says why (set through the host).
   */
  async unlock(host: SimPinHost, pin: string | undefined, simId: () => Promise<string>): Promise<boolean> {
    this.host = host;
    const status = await this.cpin();
    if (status === 'ready') return true;
    if (status === 'absent') {
      this.at.setState('no-sim', 'no SIM card (or SIM failure)');
      return false;
    }
    if (status === 'puk') {
      this.at.setState('pin-rejected', 'SIM is locked and needs its PUK; not touched');
      return false;
    }
    if (status !== 'pin') {
      this.at.setState('pin-needed', `SIM wants ${status}; not handled automatically`);
      return false;
    }
    const id = await simId();
    const key = `pin-rejected:${id}`;
    const unclearKey = `pin-unclear:${id}`;
    if (pin === undefined) {
      // Clearing the setting is how an admin whose PIN was right anyway allows a new entry.
      this.unclearPin = undefined;
      if (await this.table.get(unclearKey)) await this.table.del(unclearKey).catch(() => undefined);
      this.at.setState('pin-needed', 'SIM needs a PIN: set it in the modem settings');
      return false;
    }
    const earlier = await this.table.get(key);
    if (earlier && this.samePin(earlier, pin)) {
      this.at.setState(
        'pin-rejected',
        `PIN rejected earlier for this SIM${earlier.triesLeft === undefined ? '' : ` (${earlier.triesLeft} ${earlier.triesLeft === 1 ? 'try' : 'tries'} left)`}; not retried until the PIN setting changes`,
      );
      return false;
    }
    const tries = await this.triesLeft();
    // An earlier entry whose outcome was unclear (a timeout, say): if the SIM counted it, the PIN
    // was wrong, and is now known to be. Stored too: a SIM that cannot tell its tries left must not
    // get one entry per service start.
    const stored = this.unclearPin?.key === key ? undefined : await this.table.get(unclearKey);
    const remembered =
      this.unclearPin?.key === key
        ? this.unclearPin
        : stored
          ? {
              key,
              salt: stored.salt,
              hash: stored.hash,
              reason: stored.reason ?? 'no answer',
              ...(stored.triesBefore === undefined ? {} : { triesBefore: stored.triesBefore }),
              attempts: 1,
              retryAt: 0,
            }
          : undefined;
    const unclear = remembered && this.samePin(remembered, pin) ? remembered : undefined;
    this.unclearPin = undefined;
    if (unclear?.triesBefore !== undefined && tries !== undefined && tries < unclear.triesBefore)
      return this.rejectPin(key, pin, tries, 'the SIM counted an earlier unanswered entry');
    if (tries !== undefined && tries <= 1) {
      this.at.setState(
        'pin-rejected',
        `${tries} PIN ${tries === 1 ? 'try' : 'tries'} left: not spent automatically; unlock the SIM in a phone`,
      );
      return false;
    }
    if (unclear && (tries === undefined || unclear.triesBefore === undefined)) {
      // It failed before without saying why, and the SIM cannot tell whether that cost a try:
      // one entry per PIN setting is all that is risked, restarts included.
      this.at.setState('pin-needed', unclearDetail(unclear.reason, undefined));
      this.unclearPin = unclear;
      return false;
    }
    if (unclear && this.opts.clock.monotonic() < unclear.retryAt) {
      // Free to retry, but a modem that always refuses the entry is not asked every 30 s for ever.
      this.at.setState('pin-needed', unclearDetail(unclear.reason, unclear.triesBefore));
      this.unclearPin = unclear;
      return false;
    }
    this.log.info({ triesLeft: tries }, 'entering SIM PIN');
    // Noted (durably) before the entry: a crash or power cut while it is on the wire is unclear too.
    const attempts = (unclear?.attempts ?? 0) + 1;
    await this.noteUnclear(unclearKey, {
      ...this.pendingUnclear(key, pin, 'interrupted', attempts),
      ...(tries === undefined ? {} : { triesBefore: tries }),
    });
    let r: AtResponse | undefined;
    for (let busy = 0; ; busy++) {
      try {
        r = await this.at.exec(`AT+CPIN="${pin}"`, { secret: true, class: 'slow' });
      } catch (e) {
        if (!(e instanceof MfaError) || e.code !== ErrorCode.ModemTimeout) throw e;
        r = undefined;
      }
      if (r?.final.ok) return this.pinAccepted(key, unclearKey);
      const c = r && !r.final.ok ? classifyFinal(r.final) : undefined;
      // SIM busy or still initialising (CME 14, 515): the SIM should not have looked at the PIN.
      // Wait it out, but a firmware that counts the entry anyway must not get four in a row: the
      // tries left are read before every re-entry, and an unknown count is not gambled on.
      if (!c || !(isSimBusy(c) || c.code === 515) || busy >= 3) break;
      if ((await this.cpin()) !== 'pin') break;
      const now = await this.triesLeft();
      if (now === undefined || now <= 1 || (tries !== undefined && now < tries)) break;
    }
    const c = r && !r.final.ok ? classifyFinal(r.final) : undefined;
    const reason = c?.reason ?? 'no answer';
    // Noted before the checks below, which may time out on a modem that hung at the PIN.
    const pending = this.pendingUnclear(key, pin, reason, attempts);
    await this.noteUnclear(unclearKey, tries === undefined ? pending : { ...pending, triesBefore: tries });
    // Only the SIM's own word counts as a rejection: CME 16 "incorrect password", a tries-left
    // count that dropped, or a SIM that now wants its PUK. Anything else (plain ERROR, CME 3,
    // "not ready", a timeout) may be the modem, not the PIN, and storing it would lock out a
    // good PIN until someone edits the setting.
    const after = await this.triesLeft();
    if (c?.family === 'cme' && c.code === 16) return this.rejectPin(key, pin, after);
    const now = await this.cpin();
    if (now === 'ready') return this.pinAccepted(key, unclearKey);
    if (now === 'puk') return this.rejectPin(key, pin, 0, 'the SIM now needs its PUK');
    if (tries !== undefined && after !== undefined && after < tries) return this.rejectPin(key, pin, after);
    const known = tries !== undefined && after !== undefined;
    if (known) await this.noteUnclear(unclearKey, { ...pending, triesBefore: after });
    this.log.warn({ reason, triesLeft: after }, 'PIN entry failed without the SIM rejecting the PIN');
    this.at.setState('pin-needed', unclearDetail(reason, known ? after : undefined));
    return false;
  }

  private pendingUnclear(key: string, pin: string, reason: string, attempts: number): UnclearPin {
    const salt = randomBytes(8).toString('hex');
    // 1, 2, 4… polls between entries that cost nothing, at most an hour.
    const retryAt =
      this.opts.clock.monotonic() +
      Math.min(3_600_000, this.opts.pollRegistered * 2 ** Math.min(10, attempts - 1));
    return { key, salt, hash: this.pinDigest(salt, pin), reason, attempts, retryAt };
  }

  /** Keeps an unclear entry in memory and in the store (a keyed hash of the PIN, never the PIN). */
  private async noteUnclear(unclearKey: string, u: UnclearPin): Promise<void> {
    this.unclearPin = u;
    await this.table.put(unclearKey, {
      hash: u.hash,
      salt: u.salt,
      at: this.opts.clock.now(),
      reason: u.reason,
      ...(u.triesBefore === undefined ? {} : { triesBefore: u.triesBefore }),
    });
  }

  private async pinAccepted(key: string, unclearKey: string): Promise<boolean> {
    this.unclearPin = undefined;
    await this.table.del(key).catch(() => undefined);
    await this.table.del(unclearKey).catch(() => undefined);
    return (await this.cpin()) === 'ready' || this.fail('SIM not ready after PIN');
  }

  /** `h2:` keys the HMAC with the device key's sim-pin subkey; `h1:` (earlier releases) with the key itself. */
  private pinDigest(salt: string, pin: string, version: 'h1' | 'h2' = 'h2'): string {
    const k = this.opts.pinKey;
    if (!k) return legacyPinHash(salt, pin);
    const key = version === 'h1' ? k : deriveSubkey(k, 'sim-pin');
    return `${version}:${createHmac('sha256', key).update(`${salt}:${pin}`).digest('hex')}`;
  }

  /** Whether a stored marker is for this PIN. One written with a key this process lacks counts as the same PIN: never spend a try on a guess. */
  private samePin(rec: { hash: string; salt: string }, pin: string): boolean {
    const version = rec.hash.startsWith('h1:') ? 'h1' : rec.hash.startsWith('h2:') ? 'h2' : undefined;
    if (version === undefined) return rec.hash === legacyPinHash(rec.salt, pin);
    if (!this.opts.pinKey) return true;
    const want = Buffer.from(rec.hash);
    const got = Buffer.from(this.pinDigest(rec.salt, pin, version));
    return want.length === got.length && timingSafeEqual(want, got);
  }

  /** Persists the rejection (a keyed hash of the PIN, never the PIN) so no restart tries it again. */
  private async rejectPin(key: string, pin: string, left: number | undefined, why?: string): Promise<false> {
    const salt = randomBytes(8).toString('hex');
    this.unclearPin = undefined;
    await this.table.put(key, {
      hash: this.pinDigest(salt, pin),
      salt,
      at: this.opts.clock.now(),
      ...(left === undefined ? {} : { triesLeft: left }),
    });
    // After the rejection is durable, so a crash in between still leaves a marker.
    await this.table.del(key.replace(/^pin-rejected:/, 'pin-unclear:')).catch(() => undefined);
    this.at.setState(
      'pin-rejected',
      `PIN rejected${left === undefined ? '' : ` (${left} ${left === 1 ? 'try' : 'tries'} left)`}${why ? `: ${why}` : ''}; not retried`,
    );
    return false;
  }

  private fail(detail: string): false {
    this.at.setState('failed', detail);
    return false;
  }

  /** Reads +CPIN?, waiting out SIM busy (CME 14) with 100 ms → 500 ms backoff, never a fixed sleep. */
  // 'ready' | 'pin' | 'puk' | 'absent', or the modem's words for anything else.
  private async cpin(): Promise<string> {
    const until = this.opts.clock.monotonic() + this.opts.simBusyMax;
    let backoff = 100;
    for (;;) {
      const r = await this.at.exec('AT+CPIN?', { finalOptionalAfter: '+CPIN:' });
      if (r.final.ok) {
        const s = parseCpin(r.lines);
        if (s?.kind === 'ready' || s?.kind === 'pin' || s?.kind === 'puk' || s?.kind === 'absent')
          return s.kind;
        if (s?.kind === 'other-lock') return s.what;
        if (s?.kind === 'unknown' && s.text.includes('NOT READY')) {
          /* fall through to wait */
        } else return s?.kind === 'unknown' ? s.text : 'unreadable';
      } else {
        const c = classifyFinal(r.final);
        if (c.code === 10 || c.code === 13 || c.code === 310 || c.code === 313) return 'absent';
        if (c.code === 11) return 'pin';
        if (c.code === 12) return 'puk';
        if (!isSimBusy(c) && c.code !== 515) return c.reason;
      }
      if (this.opts.clock.monotonic() > until) return 'busy for too long';
      this.at.setState('initialising', 'SIM busy, waiting');
      await sleep(backoff);
      backoff = Math.min(500, backoff * 2);
    }
  }

  private async triesLeft(): Promise<number | undefined> {
    const t = this.at.profile?.triesLeft;
    const cmds = t ? [t] : [];
    if (t?.command !== 'AT+CPINR="SIM PIN"')
      cmds.push({ command: 'AT+CPINR="SIM PIN"', pattern: '^\\+CPINR: ?"?SIM PIN"?,(\\d+)' });
    for (const c of cmds) {
      const r = await this.at.tryExec(c.command);
      const n = r ? parseTriesLeft(r.lines, c.pattern) : undefined;
      if (n !== undefined) return n;
    }
    return undefined;
  }
}

function unclearDetail(reason: string, triesLeft: number | undefined): string {
  return triesLeft === undefined
    ? `PIN entry failed (${reason}) and the SIM cannot tell whether it counted: not entered again, also after a restart; check the PIN and change the setting (a different PIN gets one try; if it was right, clear the setting once and set it again)`
    : `PIN entry failed (${reason}) without a try being counted (${triesLeft} left): entered again at a later check`;
}

function legacyPinHash(salt: string, pin: string): string {
  return createHash('sha256').update(`${salt}:${pin}`).digest('hex');
}
