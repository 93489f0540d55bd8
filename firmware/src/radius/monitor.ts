/**
 * The load balancer's monitor user: answered by the listener itself, so a probe never binds,
 * texts or locks anyone out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { describeError } from '../errors.ts';
import { CODE } from './codec.ts';
import type { ReplyAttribute } from './codec.ts';
import type { ClientEntry } from './clients.ts';

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
}

export interface MonitorAnswer {
  code: number;
  attributes: ReplyAttribute[];
}

function digestEqual(a: Buffer, b: Buffer): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function isMonitorRequest(e: ClientEntry, userName: string): boolean {
  return e.client.monitorUser !== undefined && userName === e.client.monitorUser;
}

export function monitorPasswordOk(e: ClientEntry, password: string): boolean {
  return e.monitorPassword !== undefined && digestEqual(Buffer.from(password, 'utf8'), e.monitorPassword);
}

/** Calls the health source; a throwing one counts as unhealthy, with the reason. */
export function healthNow(health: (() => HealthReport) | undefined): HealthReport {
  if (!health) return { healthy: true, reasons: [] };
  try {
    return health();
  } catch (err) {
    return { healthy: false, reasons: [`health check failed: ${describeError(err)}`] };
  }
}

/** A Reply-Message cut to 253 octets without leaving half a UTF-8 character. */
export function replyMessage(text: string): string {
  return Buffer.from(text, 'utf8')
    .subarray(0, 253)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** The answer to a monitor probe whose password was right. */
export function monitorAnswer(h: HealthReport): MonitorAnswer {
  const msg = h.healthy ? 'healthy' : `unhealthy: ${h.reasons.join('; ')}`;
  return {
    code: h.healthy ? CODE.AccessAccept : CODE.AccessReject,
    attributes: [['Reply-Message', replyMessage(msg)]],
  };
}
