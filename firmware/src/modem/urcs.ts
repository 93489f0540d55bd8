/**
 * What a modem does with the unsolicited lines it sends: a boot URC mid-run means it restarted
 * (the command in flight fails, init reruns), delivery reports (+CDS routed, +CDSI stored),
 * a call (rejected), and registration changes (the monitor looks at once).
 */
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ModemLink, UrcEvent } from './link.ts';
import type { ModemProfile } from './profiles.ts';
import { readStoredReport, statusReportEvent, type StatusReportEvent } from './status-reports.ts';
import type { ModemState } from './types.ts';

const GENERIC_BOOT_URCS = ['RDY', 'SMS Ready', '^SYSSTART', '+SYSSTART', 'SMS DONE'];
const HARD_RESET_URCS = new Set(['RDY', '^SYSSTART', '+SYSSTART', '+CFUN', '^BOOT']);
/** One restart announces itself several times (RDY, +CFUN: 1, Call Ready, SMS Ready over ~10 s). */
const SAME_BOOT_MS = 10_000;
/** A caller who keeps ringing gets one ATH per this long, not one per RING. */
const HANGUP_EVERY_MS = 5000;

/** What the URC handling needs from its modem. */
export interface UrcHost {
  name: string;
  log: Logger;
  clock: Clock;
  link: ModemLink;
  profile(): ModemProfile | undefined;
  state(): ModemState;
  /** Routed reports must be acknowledged with AT+CNMA (see sms-setup.ts). */
  cnmaRequired(): boolean;
  /** The modem restarted on its own: init must run again. */
  restarted(): void;
  /** Wakes the supervisor's nap (registration may have changed). */
  wake(): void;
  statusReport(ev: StatusReportEvent): void;
}

export class UrcHandler {
  private lastBootUrcAt = -Infinity;
  private lastHangupAt = -Infinity;

  constructor(private readonly host: UrcHost) {}

  handle(ev: UrcEvent): void {
    const h = this.host;
    const profile = h.profile();
    const boot = profile?.bootUrcs ?? GENERIC_BOOT_URCS;
    const isBoot =
      boot.includes(ev.name) && !(ev.name === '^BOOT' && profile?.quirks.periodicBootUrc === true);
    const now = h.clock.monotonic();
    const sameBoot = now - this.lastBootUrcAt < SAME_BOOT_MS;
    if (isBoot) this.lastBootUrcAt = now;
    const state = h.state();
    if (isBoot && !sameBoot && state !== 'initialising' && state !== 'absent') {
      h.log.warn({ urc: ev.name }, 'modem restarted on its own: re-initialising');
      h.restarted();
      // RDY / ^SYSSTART / +CFUN: 1 are sent only at power-up: the reply in flight will never come.
      // Readiness URCs (SMS Ready, SMS DONE) can also follow a boot that happened before the port
      // was opened, so they schedule a re-init without failing a send that may be going fine.
      if (HARD_RESET_URCS.has(ev.name))
        h.link.current?.abortInFlight(
          // canceled: the restart explains the failure, so the send path does not climb the ladder.
          new MfaError(`${h.name} restarted (${ev.name})`, ErrorCode.ModemClosed, {
            flags: { canceled: true },
          }),
        );
      h.wake();
      return;
    }
    if (ev.name === '+CDS') {
      this.statusReport(ev.data ?? ev.line);
      // With +CSMS=1 (or on modems that insist) a routed report must be acknowledged, or the
      // network stops sending them.
      if (h.cnmaRequired()) void h.link.current?.exec('AT+CNMA').catch(() => undefined);
      return;
    }
    if (ev.name === '+CDSI') {
      // ds=2 (Qualcomm): the report was stored; read it, then delete it so storage never fills.
      const idx = /,\s*(\d+)\s*$/.exec(ev.line)?.[1];
      if (idx !== undefined) void readStoredReport(h.link, Number(idx), (pdu) => this.statusReport(pdu));
      return;
    }
    if (ev.name === 'RING' || ev.name === '+CRING') {
      // Nobody answers the box: reject the call so a caller does not ring on and tie up a 2G radio.
      if (now - this.lastHangupAt > HANGUP_EVERY_MS) {
        this.lastHangupAt = now;
        void h.link.current?.exec('ATH').catch(() => undefined);
      }
      return;
    }
    if (ev.name === '+CREG' || ev.name === '+CEREG' || ev.name === '+CGREG') h.wake();
  }

  private statusReport(data: string): void {
    const ev = statusReportEvent(this.host.name, data, this.host.log);
    if (ev) this.host.statusReport(ev);
  }
}
