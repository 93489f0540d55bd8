/**
 * The email method's delivery, between the engine and the SMTP sender: `send` returns at once
 * and the message goes out in the background, so an Access-Challenge never waits on a relay; the
 * outcome of each challenge's email is kept in memory so step 2 can move on when it failed or is
 * still unsent after methods.smsUnsentSeconds.
 *
 * Unlike the SMS outbox nothing here is persisted: a restart between the challenge and the send
 * loses that one email, and the user logs in again (or answers the next word). Email is off by
 * default, and a durable queue would keep the passcode's text on the card for that corner case.
 *
 * The sender follows the live config: a changed relay, CA or password builds a new transport on
 * the next send; a CA file that cannot be read makes the method unavailable (skipped in the chain
 * with its reason) rather than a login error.
 */
import { readFileSync } from 'node:fs';
import type { MethodsConfig } from '../config/auth-schema.ts';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { createEmailSender, maskEmail, type EmailMessage, type EmailSender } from './email-sender.ts';

const log = logger('auth:email');

export type EmailConfig = MethodsConfig['email'];
export type EmailStatus = 'sending' | 'sent' | 'failed';

export interface EmailChannel {
  /** Whether a passcode email can be sent now (enabled, configured, the CA readable). */
  ready(): boolean;
  /** Queues the message for `id` (a challenge id) in the background; never throws, never waits. */
  send(id: string, m: EmailMessage): void;
  /** The outcome so far of `id`'s email; undefined when unknown (not sent by this process). */
  status(id: string): EmailStatus | undefined;
  /** Waits (at most `ms`) for the emails in flight, then closes the transport. */
  close(ms?: number): Promise<void>;
}

/** Outcomes kept, oldest dropped first: a passcode lives minutes, this covers thousands of logins. */
const MAX_TRACKED = 10_000;

export interface EmailChannelDeps {
  /** Builds the sender for a config (tests hand in one over a fake transport). */
  createSender?: (c: EmailConfig & { host: string; from: string }, ca: string | undefined) => EmailSender;
  /** Each outcome, without the message (for counters and tests). */
  onResult?: (id: string, r: { ok: boolean; reason?: string; to: string }) => void;
}

export class SmtpEmailChannel implements EmailChannel {
  private sender: EmailSender | undefined;
  /** The config the sender (or the failure to build one) belongs to. */
  private builtFor: string | undefined;
  private readonly outcomes = new Map<string, EmailStatus>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: () => EmailConfig,
    private readonly deps: EmailChannelDeps = {},
  ) {}

  private current(): EmailSender | undefined {
    const c = this.config();
    if (!c.enabled || c.host === undefined || c.from === undefined) {
      this.drop();
      return undefined;
    }
    const key = JSON.stringify(c);
    if (key === this.builtFor) return this.sender;
    this.drop();
    this.builtFor = key;
    try {
      const ca = c.caFile === undefined ? undefined : readFileSync(c.caFile, 'utf8');
      const cfg = { ...c, host: c.host, from: c.from };
      this.sender = this.deps.createSender
        ? this.deps.createSender(cfg, ca)
        : createEmailSender({
            host: c.host,
            port: c.port,
            from: c.from,
            ...(ca === undefined ? {} : { ca }),
            ...(c.user !== undefined && c.password !== undefined
              ? { auth: { user: c.user, pass: c.password } }
              : {}),
          });
    } catch (e) {
      // Logged once per config: the CA file named in it cannot be read.
      log.error({ caFile: c.caFile, err: describeError(e) }, 'email method unavailable');
      this.sender = undefined;
    }
    return this.sender;
  }

  private drop(): void {
    this.sender?.close();
    this.sender = undefined;
    this.builtFor = undefined;
  }

  ready(): boolean {
    return this.current() !== undefined;
  }

  send(id: string, m: EmailMessage): void {
    const sender = this.current();
    const to = maskEmail(m.to);
    if (!sender) {
      this.track(id, 'failed');
      this.deps.onResult?.(id, { ok: false, reason: 'email off', to });
      return;
    }
    this.track(id, 'sending');
    const p = sender
      .send(m)
      .then((r) => {
        this.track(id, r.ok ? 'sent' : 'failed');
        if (r.ok) log.info({ challengeId: id, to }, 'passcode email sent');
        else
          log.warn(
            { challengeId: id, to, reason: r.reason, permanent: r.permanent },
            'passcode email failed',
          );
        this.deps.onResult?.(id, { ok: r.ok, to, ...(r.ok ? {} : { reason: r.reason }) });
      })
      .catch((e: unknown) => {
        // The sender reports failures as values; this is a bug, and still not a crash.
        this.track(id, 'failed');
        log.error({ challengeId: id, err: describeError(e) }, 'passcode email failed');
      });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  status(id: string): EmailStatus | undefined {
    return this.outcomes.get(id);
  }

  private track(id: string, s: EmailStatus): void {
    this.outcomes.delete(id);
    this.outcomes.set(id, s);
    while (this.outcomes.size > MAX_TRACKED) {
      const oldest = this.outcomes.keys().next();
      if (oldest.done) break;
      this.outcomes.delete(oldest.value);
    }
  }

  async close(ms = 5000): Promise<void> {
    if (this.inFlight.size > 0)
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((r) => setTimeout(r, ms).unref()),
      ]);
    this.drop();
  }
}
