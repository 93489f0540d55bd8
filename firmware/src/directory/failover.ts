/**
 * Which DC to ask, pure state (no IO, time injected). A DC that failed is marked down and skipped
 * while another is up; the one that last answered stays preferred (sticky), so a flapping first DC
 * does not cost every login a timeout. Down DCs are re-probed in the background by the caller.
 */

export interface ServerState {
  url: string;
  up: boolean;
  /** Monotonic ms of the last state change, for health detail. */
  since: number;
  /** Secret-free description of the last failure. */
  lastError?: string;
}

export class ServerPool {
  private servers: ServerState[];
  private preferred = 0;

  constructor(urls: readonly string[], now: number) {
    // Unknown DCs count as up until proven otherwise: at boot every DC deserves a try.
    this.servers = dedupe(urls).map((url) => ({ url, up: true, since: now }));
  }

  /** Replaces the list (after SRV discovery), keeping the state of DCs already known. */
  setUrls(urls: readonly string[], now: number): void {
    const old = new Map(this.servers.map((s) => [s.url, s]));
    const current = this.servers[this.preferred]?.url;
    this.servers = dedupe(urls).map((url) => old.get(url) ?? { url, up: true, since: now });
    const i = this.servers.findIndex((s) => s.url === current);
    this.preferred = i >= 0 ? i : 0;
  }

  get size(): number {
    return this.servers.length;
  }

  list(): readonly ServerState[] {
    return this.servers;
  }

  /**
   * The order to try DCs for one operation: the preferred one, then the other up ones in config
   * order, then the down ones as a last resort (their mark may be stale, and trying beats failing).
   */
  order(): string[] {
    const n = this.servers.length;
    const rotated = Array.from({ length: n }, (_, k) => this.servers[(this.preferred + k) % n]).filter(
      (s): s is ServerState => s !== undefined,
    );
    return [...rotated.filter((s) => s.up), ...rotated.filter((s) => !s.up)].map((s) => s.url);
  }

  markUp(url: string, now: number): void {
    const i = this.servers.findIndex((s) => s.url === url);
    const s = this.servers[i];
    if (!s) return;
    if (!s.up) {
      s.up = true;
      s.since = now;
    }
    delete s.lastError;
    // Stay with a DC that works; only move when the preferred one is down.
    if (!this.servers[this.preferred]?.up) this.preferred = i;
  }

  markDown(url: string, error: string, now: number): void {
    const s = this.servers.find((x) => x.url === url);
    if (!s) return;
    if (s.up) {
      s.up = false;
      s.since = now;
    }
    s.lastError = error;
    if (this.servers[this.preferred]?.url === url) {
      const next = this.servers.findIndex((x) => x.up);
      if (next >= 0) this.preferred = next;
    }
  }

  current(): ServerState | undefined {
    return this.servers[this.preferred];
  }

  down(): ServerState[] {
    return this.servers.filter((s) => !s.up);
  }
}

function dedupe(urls: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const u of urls) {
    const k = u.toLowerCase();
    if (!seen.has(k)) {
      seen.add(k);
      out.push(u);
    }
  }
  return out;
}

/**
 * The time budget of one attempt at one DC: the remaining deadline shared among the DCs still to
 * try, so a black-holed first DC cannot eat the whole login. Never below `floorMs` (a DC needs a
 * few round trips), never above what is left.
 */
export function attemptBudget(remainingMs: number, serversLeft: number, floorMs = 300): number {
  if (remainingMs <= 0) return 0;
  const share = remainingMs / Math.max(1, serversLeft);
  return Math.floor(Math.min(remainingMs, Math.max(share, floorMs)));
}

/** SRV records → URLs, by priority then weight (RFC 2782 order, without the weighted shuffle). */
export function srvToUrls(
  records: readonly { name: string; port: number; priority: number; weight: number }[],
  useLdaps: boolean,
): string[] {
  return [...records]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight || a.name.localeCompare(b.name))
    .map((r) => {
      const host = r.name.replace(/\.$/, '');
      return useLdaps ? `ldaps://${host}:636` : `ldap://${host}:${r.port}`;
    });
}

/** [5 min] How long a DC is left alone after it refused the service account's password. */
export const SERVICE_REFUSED_HOLD_MS = 5 * 60_000;
/** [30 min] Refusals in a row double the hold up to this. */
export const SERVICE_REFUSED_MAX_HOLD_MS = 30 * 60_000;

interface Refusal {
  until: number;
  streak: number;
}

/**
 * Which DCs refused the service account's password (LDAP invalidCredentials), pure. Every bind with
 * a wrong password counts towards AD's lockout threshold, so a DC that refused is not asked again
 * for a while; but one DC may still hold the old password after a rotation, so a refusal holds that
 * DC only, and the others are still tried. The hold doubles while the refusals go on, and ends at
 * once when the DC accepts, on `clear()` (a successful `directory test`) or a restart.
 */
export class ServiceRefusals {
  private readonly dcs = new Map<string, Refusal>();

  constructor(
    private readonly holdMs = SERVICE_REFUSED_HOLD_MS,
    private readonly maxHoldMs = SERVICE_REFUSED_MAX_HOLD_MS,
  ) {}

  /** Records a refusal; returns how long the DC is now held, ms. */
  refused(url: string, now: number): number {
    const streak = (this.dcs.get(url)?.streak ?? 0) + 1;
    const hold = Math.min(this.maxHoldMs, this.holdMs * 2 ** Math.min(streak - 1, 30));
    this.dcs.set(url, { until: now + hold, streak });
    return hold;
  }

  accepted(url: string): void {
    this.dcs.delete(url);
  }

  held(url: string, now: number): boolean {
    return (this.dcs.get(url)?.until ?? -Infinity) > now;
  }

  /** When every one of `urls` is held: ms until the first of them may be tried again. */
  allHeld(urls: readonly string[], now: number): number | undefined {
    if (urls.length === 0) return undefined;
    let first = Infinity;
    for (const u of urls) {
      const until = this.dcs.get(u)?.until ?? -Infinity;
      if (until <= now) return undefined;
      first = Math.min(first, until - now);
    }
    return first;
  }

  clear(): void {
    this.dcs.clear();
  }
}
