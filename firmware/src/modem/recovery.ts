/**
 * The recovery ladder for a modem that stopped answering or lost its port: ESC + AT probe →
 * reopen the port → AT+CFUN=1,1 → wait for USB re-enumeration. Each rung ends as soon as the
 * modem answers AT again.
 */
import { describeError, ErrorCode, MfaError } from '../errors.ts';
import type { ModemProfile } from './profiles.ts';
import type { ModemTimings } from './timings.ts';
import { waitForPath } from './transport.ts';
import type { ModemState } from './types.ts';

/** What the ladder does to its modem. */
export interface LadderHost {
  readonly path: string;
  readonly timings: ModemTimings;
  profile(): ModemProfile | undefined;
  stopped(): boolean;
  /** The port went away (the OS closed it, or the channel saw it go). */
  portLost(): boolean;
  hasChannel(): boolean;
  /** ESC, then AT until OK (probeTries times). */
  probe(): Promise<boolean>;
  reopen(): Promise<void>;
  closePort(): Promise<void>;
  /** AT+CFUN=1,1 on the open channel, if any; the modem may reset before it answers. */
  resetModem(): Promise<void>;
  setState(state: ModemState, detail?: string): void;
  /** A rung worked: the modem answers AT again. */
  recovered(how: string): void;
  /** No AT port came back after a reset (the E173 modeswitch trap). */
  noAtPort(): void;
  /** Whether the device path exists (a real device node by default). */
  exists?: (path: string) => boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RecoveryLadder {
  /**
   * Ladder climbs for a hang (a timeout) since init last ran through that ended on a low rung
   * (the AT probe or a reopen) because AT answered. A modem that answers AT but hangs on
   * everything else would otherwise be "recovered" by the probe for ever and never reset: after
   * one probe and one reopen that did not last, the ladder goes on to AT+CFUN=1,1.
   */
  shallowRecoveries = 0;

  constructor(private readonly host: LadderHost) {}

  private waitForPort(): Promise<boolean> {
    const h = this.host;
    return waitForPath(
      h.path,
      h.timings.reenumerate,
      Math.min(250, h.timings.reopenPoll),
      () => h.stopped(),
      h.exists,
    );
  }

  private recovered(how: string, hang: boolean): void {
    this.host.recovered(how);
    if (hang) this.shallowRecoveries++;
  }

  async climb(cause: unknown): Promise<void> {
    const h = this.host;
    const closed = h.portLost();
    // Only hangs escalate: init failing on a SIM that stays busy is not helped by a reset.
    const hang = cause instanceof MfaError && cause.code === ErrorCode.ModemTimeout;
    const deeper = hang ? this.shallowRecoveries : 0;
    if (!closed && h.hasChannel() && deeper < 1) {
      // Rungs 1+2: the probe sends ESC first, then AT.
      try {
        if (await h.probe()) return this.recovered('recovered with ESC + AT probe', hang);
      } catch {
        /* fall through */
      }
    }
    // Rung 3: reopen the port (also the path for an unplug: wait for the device to come back).
    if (closed) h.setState('absent', `port lost: ${describeError(cause)}`);
    else h.setState('failed', 'not answering: reopening the port');
    await h.closePort();
    if (!(await this.waitForPort())) {
      h.setState('absent', `port ${h.path} did not come back`);
      return;
    }
    let answersAt = false;
    try {
      await h.reopen();
      answersAt = await h.probe();
      if (answersAt && deeper < 2) return this.recovered('recovered by reopening the port', hang);
    } catch {
      /* next rung */
    }
    // Rung 4: full functionality reset; the modem re-enumerates, so the port goes away and back.
    this.shallowRecoveries = 0;
    h.setState(
      'failed',
      answersAt
        ? 'answers AT but hangs on other commands: resetting the modem (AT+CFUN=1,1)'
        : 'not answering after reopen: resetting the modem (AT+CFUN=1,1)',
    );
    await h.resetModem();
    await h.closePort();
    await sleep(Math.min(2000, h.timings.reopenPoll));
    if (!(await this.waitForPort())) {
      h.noAtPort();
      h.setState(
        'failed',
        h.profile()?.quirks.resetMayModeswitch
          ? 'no AT port after reset: the stick may have switched to CD-ROM mode (usb_modeswitch)'
          : 'no AT port after reset',
      );
    }
  }
}
