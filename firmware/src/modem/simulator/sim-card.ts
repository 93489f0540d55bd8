/**
 * The SIM card in the simulated modem: PIN/PUK locks with try counters that survive a modem
 * reboot (they live on the card), the "SIM busy" window after power-on or unlocking, and a
 * dead card.
 */
import type { Final } from './result-codes.ts';

export type SimLock = 'ready' | 'pin' | 'puk' | 'blocked';

export const PIN_TRIES = 3;
export const PUK_TRIES = 10;

export class SimCard {
  lock: SimLock;
  pinTries = PIN_TRIES;
  pukTries = PUK_TRIES;
  /** Monotonic ms until which SIM commands get +CME ERROR: 14. */
  busyUntil = 0;
  dead = false;

  constructor(
    private pin: string | undefined,
    private readonly puk: string,
    private readonly now: () => number,
  ) {
    this.lock = pin === undefined ? 'ready' : 'pin';
  }

  /** Power reaches the card: it locks again if PIN checking is on, and is busy for `busyMs`. */
  powerOn(busyMs: number): void {
    if (this.lock === 'ready' && this.pin !== undefined) this.lock = 'pin';
    this.busyUntil = this.now() + busyMs;
  }

  get busy(): boolean {
    return this.now() < this.busyUntil;
  }

  get usable(): boolean {
    return this.lock === 'ready' && !this.dead;
  }

  /** The +CPIN? word. */
  word(): string {
    if (this.dead) return 'NOT READY';
    return this.lock === 'ready' ? 'READY' : this.lock === 'pin' ? 'SIM PIN' : 'SIM PUK';
  }

  /** The error a SIM-dependent command gets now, or undefined when the card is usable. */
  error(kind: 'cme' | 'cms'): Final | undefined {
    const pick = (cme: number, cms: number): Final =>
      kind === 'cms' ? { kind: 'cms', code: cms } : { kind: 'cme', code: cme };
    if (this.dead) return pick(13, 313);
    if (this.busy) return pick(14, 314);
    if (this.lock === 'pin') return pick(11, 311);
    if (this.lock === 'puk') return pick(12, 316);
    if (this.lock === 'blocked') return pick(13, 313);
    return undefined;
  }

  /** PIN tries left as a modem reports them: 0 once the PUK is needed. */
  get pinTriesLeft(): number {
    return this.lock === 'puk' || this.lock === 'blocked' ? 0 : this.pinTries;
  }

  /**
   * AT+CPIN=<code>[,<newpin>]: unlocks with the PIN, or with the PUK and a new PIN. A wrong code
   * spends a try; the last PIN try leads to PUK, the last PUK try blocks the card.
   */
  enter(
    code: string | undefined,
    newPin: string | undefined,
  ): 'unlocked' | 'wrong' | 'not-locked' | 'blocked' {
    if (this.lock === 'pin') {
      if (code === this.pin) {
        this.lock = 'ready';
        this.pinTries = PIN_TRIES;
        return 'unlocked';
      }
      this.pinTries--;
      if (this.pinTries <= 0) this.lock = 'puk';
      return 'wrong';
    }
    if (this.lock === 'puk') {
      if (code === this.puk && newPin !== undefined && /^\d{4,8}$/.test(newPin)) {
        this.pin = newPin;
        this.lock = 'ready';
        this.pinTries = PIN_TRIES;
        this.pukTries = PUK_TRIES;
        return 'unlocked';
      }
      this.pukTries--;
      if (this.pukTries <= 0) this.lock = 'blocked';
      return 'wrong';
    }
    return this.lock === 'blocked' ? 'blocked' : 'not-locked';
  }
}
