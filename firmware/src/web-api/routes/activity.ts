/**
 * GET /api/activity → the dashboard's last 24 h from the audit log, drawn small by the page:
 *   {"since", "bucketMinutes": 5, "accepts"[288], "rejects"[288] (per minute, averaged over each
 *   bucket), "smsMs"[288] (median ms from queued to the modem's accept, null without sends),
 *   "recent": the last 20 RADIUS decisions, newest first}.
 * Computed on the box so the page fetches 288 numbers, not a day of records.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditRecord, RadiusRecord } from '../../audit/records.ts';
import type { AuditReader } from './audit.ts';

export const BUCKET_MINUTES = 5;
const DAY_MS = 24 * 60 * 60_000;
const BUCKET_MS = BUCKET_MINUTES * 60_000;
const BUCKETS = DAY_MS / BUCKET_MS;
const RECENT = 20;

export interface Activity {
  since: number;
  bucketMinutes: number;
  accepts: number[];
  rejects: number[];
  smsMs: (number | null)[];
  recent: RadiusRecord[];
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return Math.round(s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2);
};

/** Buckets a day of records, fed oldest first (pure); holds 288 buckets, never the records. */
export class DaySummary {
  // Aligned to bucket boundaries, so a refresh moves the chart by whole buckets.
  readonly since: number;
  private readonly accepts = new Array<number>(BUCKETS).fill(0);
  private readonly rejects = new Array<number>(BUCKETS).fill(0);
  private readonly sendTimes: number[][] = Array.from({ length: BUCKETS }, () => []);
  private readonly queuedAt = new Map<string, number>();
  private readonly recent: RadiusRecord[] = [];

  constructor(now: number) {
    this.since = Math.floor(now / BUCKET_MS) * BUCKET_MS + BUCKET_MS - DAY_MS;
  }

  private bucketOf(t: number): number {
    return Math.floor((t - this.since) / BUCKET_MS);
  }

  add(r: AuditRecord): void {
    const b = this.bucketOf(r.t);
    if (b < 0 || b >= BUCKETS) return;
    if (r.kind === 'radius') {
      this.recent.push(r);
      if (this.recent.length > RECENT) this.recent.shift();
      if (r.outcome === 'accept') this.accepts[b] = (this.accepts[b] ?? 0) + 1;
      else if (r.outcome === 'reject') this.rejects[b] = (this.rejects[b] ?? 0) + 1;
    } else if (r.kind === 'sms') {
      if (r.event === 'queued') this.queuedAt.set(r.challengeId, r.t);
      else if (r.event === 'sent') {
        const q = this.queuedAt.get(r.challengeId);
        this.queuedAt.delete(r.challengeId);
        const at = r.at ?? r.t;
        if (q !== undefined && at >= q) this.sendTimes[this.bucketOf(at)]?.push(at - q);
      }
    }
  }

  result(): Activity {
    const perMinute = (n: number): number => Math.round((n / BUCKET_MINUTES) * 100) / 100;
    return {
      since: this.since,
      bucketMinutes: BUCKET_MINUTES,
      accepts: this.accepts.map(perMinute),
      rejects: this.rejects.map(perMinute),
      smsMs: this.sendTimes.map(median),
      recent: [...this.recent].reverse(),
    };
  }
}

export function registerActivityRoutes(
  app: FastifyInstance,
  audit: AuditReader,
  now: () => number = Date.now,
): void {
  app.get('/api/activity', async (): Promise<Activity> => {
    const t = now();
    const day = new DaySummary(t);
    for await (const e of audit.query({ kinds: ['radius', 'sms'], since: day.since }, { order: 'asc' }))
      day.add(e.record);
    return day.result();
  });
}
