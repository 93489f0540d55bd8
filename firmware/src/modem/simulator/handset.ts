/**
 * The phone at the other end: collects the parts the simulated network delivered and emits one
 * 'sms' per complete message, reassembled by (recipient, concatenation reference, total).
 */
import { EventEmitter } from 'node:events';

export interface ReceivedSms {
  to: string;
  text: string;
  /** Number of SMS parts it arrived in. */
  parts: number;
  flash: boolean;
  encoding: 'gsm7' | 'ucs2' | '8bit' | 'text-mode';
  /** Wall-clock ms when the last part arrived. */
  receivedAt: number;
  /** TP-MR the modem gave each part, in part order. */
  messageRefs: number[];
  /** Relative TP-VP of the first part, when present. */
  validitySeconds?: number;
  statusReport: boolean;
}

export interface DeliveredPart {
  to: string;
  text: string;
  flash: boolean;
  encoding: ReceivedSms['encoding'];
  messageReference: number;
  concat?: { ref: number; total: number; seq: number };
  validitySeconds?: number;
  statusReport: boolean;
}

interface Pending {
  parts: Map<number, DeliveredPart>;
  total: number;
}

export class HandsetInbox extends EventEmitter {
  readonly messages: ReceivedSms[] = [];
  /** Every part as delivered, including parts of messages not yet complete. */
  readonly parts: DeliveredPart[] = [];
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  override on(event: 'sms', listener: (sms: ReceivedSms) => void): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** Resolves with the next message for which `match` is true (or any message). */
  next(match: (sms: ReceivedSms) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedSms> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('sms', onSms);
        reject(new Error(`no SMS within ${timeoutMs} ms`));
      }, timeoutMs);
      const onSms = (sms: ReceivedSms): void => {
        if (!match(sms)) return;
        clearTimeout(timer);
        this.off('sms', onSms);
        resolve(sms);
      };
      this.on('sms', onSms);
    });
  }

  deliver(part: DeliveredPart): void {
    this.parts.push(part);
    const c = part.concat;
    if (!c || c.total <= 1) {
      this.complete([part]);
      return;
    }
    const key = `${part.to}\u0000${c.ref}\u0000${c.total}`;
    const p = this.pending.get(key) ?? { parts: new Map<number, DeliveredPart>(), total: c.total };
    // A resend of an identical part (same seq) replaces the old one, as a phone would show it once.
    p.parts.set(c.seq, part);
    this.pending.set(key, p);
    if (p.parts.size < p.total) return;
    this.pending.delete(key);
    this.complete([...p.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v));
  }

  private complete(parts: DeliveredPart[]): void {
    const first = parts[0];
    if (!first) return;
    const sms: ReceivedSms = {
      to: first.to,
      text: parts.map((p) => p.text).join(''),
      parts: parts.length,
      flash: first.flash,
      encoding: first.encoding,
      receivedAt: this.now(),
      messageRefs: parts.map((p) => p.messageReference),
      ...(first.validitySeconds !== undefined ? { validitySeconds: first.validitySeconds } : {}),
      statusReport: first.statusReport,
    };
    this.messages.push(sms);
    this.emit('sms', sms);
  }
}
