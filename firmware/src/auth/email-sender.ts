/**
 * The email method's sender: one message through the site's SMTP relay (nodemailer), STARTTLS
 * required, the relay's certificate checked against a pinned CA when one is given. The engine
 * reaches it through email-channel.ts, in the background, so RADIUS never waits on SMTP.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Transporter } from 'nodemailer';

export interface EmailSenderOptions {
  host: string;
  /** [1...65535], default 587. */
  port?: number;
  /** The From address. */
  from: string;
  /** PEM file with the CA that signs the relay's certificate; when set, only that CA is trusted. */
  caFile?: string;
  /** PEM text instead of a file (tests). */
  ca?: string;
  /** SMTP AUTH; the password is a secret and is never logged. */
  auth?: { user: string; pass: string };
  /** [1000...120000] ms, default 20000: connect, greeting and each command. */
  timeoutMs?: number;
}

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * `permanent`: retrying the same relay and address will not help (the relay refused the
 * recipient, TLS failed); the chain moves on either way, but the audit says which.
 */
export type SendResult = { ok: true; messageId: string } | { ok: false; permanent: boolean; reason: string };

export interface EmailSender {
  send(m: EmailMessage): Promise<SendResult>;
  close(): void;
}

export function createEmailSender(o: EmailSenderOptions, transport?: Transporter): EmailSender {
  const timeout = o.timeoutMs ?? 20_000;
  const ca = o.ca ?? (o.caFile === undefined ? undefined : readFileSync(o.caFile, 'utf8'));
  // nodemailer (and the http, https, zlib and dns modules it loads) only once a message is sent:
  // most boxes never enable email, and none needs it to start.
  let t: Transporter | undefined = transport;
  let loading: Promise<Transporter> | undefined;
  const transporter = (): Promise<Transporter> =>
    t
      ? Promise.resolve(t)
      : (loading ??= import('nodemailer').then(
          (m) =>
            (t = m.createTransport({
              host: o.host,
              port: o.port ?? 587,
              // Port 587 + STARTTLS; a relay that does not offer it is refused, never used in clear.
              secure: false,
              requireTLS: true,
              tls: {
                minVersion: 'TLSv1.2',
                rejectUnauthorized: true,
                // SNI takes a name only (RFC 6066); an IP relay is still checked against its certificate's IP SAN.
                ...(isIP(o.host) === 0 ? { servername: o.host } : {}),
                ...(ca === undefined ? {} : { ca }),
              },
              ...(o.auth === undefined ? {} : { auth: { user: o.auth.user, pass: o.auth.pass } }),
              connectionTimeout: timeout,
              greetingTimeout: timeout,
              socketTimeout: timeout,
              // nodemailer's own logger would print the SMTP dialogue (AUTH included): off.
              logger: false,
              debug: false,
            })),
        ));
  return {
    async send(m) {
      try {
        const info = (await (
          await transporter()
        ).sendMail({ from: o.from, to: m.to, subject: m.subject, text: m.text })) as {
          messageId?: string;
          rejected?: unknown[];
        };
        if (Array.isArray(info.rejected) && info.rejected.length > 0)
          return { ok: false, permanent: true, reason: 'recipient rejected' };
        return { ok: true, messageId: info.messageId ?? '' };
      } catch (e) {
        return { ok: false, ...classify(e) };
      }
    },
    close() {
      t?.close();
    },
  };
}

/** A short reason without the message body or credentials (nodemailer errors carry a code). */
function classify(e: unknown): { permanent: boolean; reason: string } {
  const err = e as { code?: unknown; responseCode?: unknown };
  const code = typeof err.code === 'string' ? err.code : 'ERROR';
  const smtp = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  if (smtp !== undefined) return { permanent: smtp >= 500, reason: `${code} ${smtp}` };
  // TLS and certificate problems are configuration, not weather.
  const permanent = code === 'ETLS' || code === 'ESOCKET' || code === 'EAUTH';
  return { permanent, reason: code };
}

/** "j.smith@example.com" → "j******@example.com": enough for the user to recognise the mailbox. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '******';
  return `${address.slice(0, 1)}******${address.slice(at)}`;
}

/**
 * The address as the directory gave it, if it is one plain mailbox: one @, a dotted domain, no
 * spaces, commas, angle brackets or line breaks, so a directory value can never add recipients
 * or headers.
 */
export function usableEmail(raw: string | undefined): string | undefined {
  const a = raw?.trim();
  if (a === undefined || a.length > 254) return undefined;
  return /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/.test(a) ? a : undefined;
}
