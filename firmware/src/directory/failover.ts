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
    // Runs on every login: one pass, no intermediate arrays.
    const n = this.servers.length;
    const up: string[] = [];
    const down: string[] = [];
    for (let k = 0; k < n; k++) {
      const s = this.servers[(this.preferred + k) % n];
      if (s) (s.up ? up : down).push(s.url);
    }
    return down.length === 0 ? up : up.concat(down);
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

/**
 * Whether an SRV target lies inside the discovery domain (the domain itself or a name under it).
 * DNS answers are not authenticated: a spoofed or hijacked record pointing at another domain would
 * otherwise receive every password, carried by any certificate valid for that name.
 */
export function srvTargetInside(target: string, domain: string): boolean {
  const t = target.replace(/\.$/, '').toLowerCase();
  const d = domain.replace(/\.$/, '').toLowerCase();
  return d.length > 0 && (t === d || t.endsWith(`.${d}`));
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

/** [15 min] How long service binds pause after a DC refused the service account's password. */
export const SERVICE_REFUSED_HOLD_MS = 15 * 60_000;
/** [60 min] Refusals in a row double the pause up to this. */
export const SERVICE_REFUSED_MAX_HOLD_MS = 60 * 60_000;

interface Refusal {
  until: number;
  streak: number;
}

/**
 * Whether the service account's password was refused (LDAP invalidCredentials), pure. AD forwards
 * a wrong password from any DC to the PDC emulator, so every bind with it counts towards the
 * account's lockout threshold, whichever DC took it: one refusal pauses service binds on every DC
 * (trying the others would spend one bad bind per DC at once). The pause starts at 15 min and
 * doubles while the refusals go on, up to an hour, so at most two bad binds fall in AD's default
 * 30-minute lockout observation window. It ends at once when a bind is accepted, on `clear()`, or
 * a restart.
 */
export class ServiceRefusals {
  private refusal: Refusal | undefined;

  constructor(
    private readonly holdMs = SERVICE_REFUSED_HOLD_MS,
    private readonly maxHoldMs = SERVICE_REFUSED_MAX_HOLD_MS,
  ) {}

  /** Records a refusal by any DC; returns how long service binds now pause, ms. */
  refused(now: number): number {
    const streak = (this.refusal?.streak ?? 0) + 1;
    const hold = Math.min(this.maxHoldMs, this.holdMs * 2 ** Math.min(streak - 1, 30));
    this.refusal = { until: now + hold, streak };
    return hold;
  }

  /** ms until service binds may be tried again, or undefined when they may now. */
  pausedFor(now: number): number | undefined {
    const until = this.refusal?.until ?? -Infinity;
    return until > now ? until - now : undefined;
  }

  /** A DC accepted the service account, or an admin asked to retry: the pause and its streak are over. */
  clear(): void {
    this.refusal = undefined;
  }
}
