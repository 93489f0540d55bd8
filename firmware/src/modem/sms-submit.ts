/**
 * The CMGS exchange for one message on one modem: the parts (PDU, or text-mode bodies with the
 * modem-wide charset and DCS set first), AT+CMMS=2 between parts, the last look at the deadline
 * before each Ctrl-Z, and the classification of how a part failed. One attempt per part; retries
 * are the pool's (see send-failure.ts).
 */
import type { Clock } from '../clock.ts';
import { MfaError } from '../errors.ts';
import { SerialQueue } from '../queue.ts';
import { classifyFinal, refusedBeforeAcceptance } from './at/errors.ts';
import { parseCmgs } from './at/replies.ts';
import type { AtChannel, AtCommands } from './channel.ts';
import { encodeSubmit, secondsToVp, textModeMessage } from './pdu/index.ts';
import type { ModemProfile } from './profiles.ts';
import { fromChannelError, sendError, sendFailure } from './send-failure.ts';
import type { SmsSendOptions } from './types.ts';

/** Progress of one message across attempts, so a retry never resends a part that went out. */
export interface SendProgress {
  refs: number[];
  beforeSubmitDone: boolean;
  /**
   * The message deadline on the monotonic clock, fixed once when the send begins (from
   * `remainingMs`): no later check reads the wall clock, which NTP steps at boot on a Pi.
   */
  deadlineMono?: number;
}

/** What the exchange needs from its modem, and the three things it reports back to it. */
export interface SubmitHost extends AtCommands {
  readonly name: string;
  readonly clock: Clock;
  profile(): ModemProfile | undefined;
  textMode(): boolean;
  lteOnly(): boolean;
  channel(): AtChannel;
  /** Registered on LTE only and the network refused SMS: hold the modem back for a while. */
  smsRefused(reason: string): void;
  /** The SIM changed under the send (removed, locked, failed): init reruns. */
  simChanged(): void;
  /** A timeout or a lost port: the supervisor recovers. */
  troubled(): void;
}

interface Part {
  command: string;
  payload: string;
}

export class SmsSubmitter {
  /** AT+CMMS=2 support: undefined until tried. */
  private cmms: boolean | undefined;
  /** Text mode: one whole message at a time (see send). */
  private readonly textQueue = new SerialQueue();

  constructor(private readonly host: SubmitHost) {}

  secondsLeft(deadlineMono: number): number {
    return Math.floor((deadlineMono - this.host.clock.monotonic()) / 1000);
  }

  /**
   * Sends every part not yet in `progress.refs`. Text mode keeps the charset and DCS in
   * modem-wide settings (+CSCS, +CSMP), so a whole message holds the modem; PDU mode carries
   * everything in each PDU and interleaves freely.
   */
  send(
    to: string,
    text: string,
    opts: SmsSendOptions,
    progress: SendProgress,
    deadlineMono: number,
  ): Promise<void> {
    const go = () => this.sendParts(to, text, opts, progress, deadlineMono);
    if (!this.host.textMode()) return go();
    return this.textQueue.run(go);
  }

  private async sendParts(
    to: string,
    text: string,
    opts: SmsSendOptions,
    progress: SendProgress,
    deadlineMono: number,
  ): Promise<void> {
    const host = this.host;
    // TP-VP: the passcode's remaining life, so the network drops a code that would arrive dead.
    const remainingS = this.secondsLeft(deadlineMono);
    if (remainingS <= 0) throw sendFailure('expired', 'passcode expired before sending');
    const parts = host.textMode()
      ? await this.textParts(to, text, opts, remainingS)
      : encodeSubmit({
          to,
          text,
          ...(opts.flash ? { flash: true } : {}),
          ...(opts.statusReport ? { statusReport: true } : {}),
          validitySeconds: remainingS,
        }).map((p) => ({ command: `AT+CMGS=${p.tpduLength}`, payload: p.hex.toUpperCase() }));
    // AT+CMMS=2 keeps the radio link up between the parts of a concatenated message (saves a
    // link set-up per part on GSM). Some sticks (Huawei E1752/E173) refuse it: asked once.
    if (parts.length - progress.refs.length > 1 && this.cmms !== false)
      this.cmms = (await host.tryExec('AT+CMMS=2')) !== undefined;
    for (let i = progress.refs.length; i < parts.length; i++) {
      const p = parts[i];
      if (!p) break;
      const before = progress.beforeSubmitDone ? undefined : opts.beforeSubmit;
      const onCommand = progress.beforeSubmitDone ? undefined : opts.onCommand;
      const ref = await this.submitOne(p, onCommand, async () => {
        await before?.();
        progress.beforeSubmitDone = true;
        // Checked right before every Ctrl-Z, also on retries that skip beforeSubmit (where the
        // outbox checks expiry): a rejection here leaves the prompt with ESC, nothing sent.
        if (host.clock.monotonic() >= deadlineMono)
          throw sendFailure('expired', 'passcode expired at the prompt: not sent');
      });
      progress.refs.push(ref);
    }
    // Back to plain text, so replies such as +COPS are not hex-encoded UCS2. Every part went out:
    // a failure here must not fail the send (a retry would be a duplicate), only start recovery.
    if (host.textMode()) await host.tryExec('AT+CSCS="IRA"').catch(() => host.troubled());
  }

  private async textParts(
    to: string,
    text: string,
    opts: SmsSendOptions,
    remainingS: number,
  ): Promise<Part[]> {
    const m = textModeMessage(to, text);
    await this.host.tryExec(`AT+CSCS="${m.charset}"`);
    if (this.host.profile()?.generation !== 'cdma') {
      const dcs = m.dcs | (opts.flash ? 0x10 : 0);
      await this.host.tryExec(`AT+CSMP=${opts.statusReport ? 49 : 17},${secondsToVp(remainingS)},0,${dcs}`);
    }
    return m.bodies.map((payload) => ({ command: `AT+CMGS="${m.da}",${m.toa}`, payload }));
  }

  private async submitOne(
    part: Part,
    onCommand: (() => void) | undefined,
    beforeSubmit: () => Promise<void>,
  ): Promise<number> {
    const host = this.host;
    let res;
    try {
      res = await host
        .channel()
        .submit(part.command, part.payload, { beforeSubmit, ...(onCommand ? { onCommand } : {}) });
    } catch (e) {
      throw this.failure(e);
    }
    const { response, submitted } = res;
    if (response.final.ok) {
      // +CMGS is optional on a few old phones (Gammu notes mr=-1); the network took the message.
      return parseCmgs(response.lines) ?? -1;
    }
    const c = classifyFinal(response.final);
    if (c.class !== 'permanent' && c.class !== 'sim' && host.lteOnly()) host.smsRefused(c.reason);
    // The SIM changed under us (removed, locked, failed): re-run init so health says what it is.
    if (c.class === 'sim') host.simChanged();
    if (submitted && !refusedBeforeAcceptance(c))
      // The SMSC may have the message (CMS 332, 500, plain ERROR…): a retry could be a duplicate.
      throw sendError(
        `${host.name}: ${c.reason} after Ctrl-Z: the message may have gone`,
        { class: 'outcome-unknown', reason: c.reason },
        { cause: c },
      );
    throw sendError(
      `${host.name}: ${c.reason}${submitted ? '' : ' (before the prompt)'}`,
      { class: c.class, reason: c.reason },
      { cause: c },
    );
  }

  /** A channel error as a send failure; a hang or a lost port (not a stop) starts recovery. */
  failure(e: unknown): unknown {
    const f = fromChannelError(this.host.name, e);
    if (f !== e && e instanceof MfaError && !e.flags.canceled) this.host.troubled();
    return f;
  }
}
