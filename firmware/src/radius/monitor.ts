/**
 * The load balancer's monitor user: answered by the listener itself, so a probe never binds,
 * texts or locks anyone out.
 *
 * The monitor is never a Gateway login: it is answered Access-Reject with the Reply-Message
 * "healthy" while the box is healthy, and not answered at all while it is not (or when the
 * monitor password is wrong). NetScaler's RADIUS monitor is set with `-respCode 3`, so a reply
 * marks the box UP and a timeout marks it DOWN; no request can reach Access-Accept this way.
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

/** A reply to send, or `undefined`: stay silent so the monitor times out and marks the box DOWN. */
export type MonitorAnswer = { code: number; attributes: ReplyAttribute[] } | undefined;

/** The Reply-Message a healthy box sends the monitor (with Access-Reject). */
export const MONITOR_HEALTHY = 'healthy';

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

/** The answer to a monitor probe whose password was right: never Access-Accept. */
export function monitorAnswer(h: HealthReport): MonitorAnswer {
  if (!h.healthy) return undefined;
  return { code: CODE.AccessReject, attributes: [['Reply-Message', MONITOR_HEALTHY]] };
}
