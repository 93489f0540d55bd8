/**
 * What the RADIUS listener counts: per client (requests, replies by code, duplicates, drops by
 * reason) and unknown sources. Health, the dashboard and /metrics read these.
 */
import { ErrorCode } from '../errors.ts';
import type { RequireMessageAuthenticator } from '../auth/types.ts';

export const DROP_REASONS = [
  'malformed',
  'unsupported-code',
  'missing-message-authenticator',
  'bad-message-authenticator',
  'proxy-state-without-message-authenticator',
  'bad-password',
  'bad-accounting-authenticator',
  'overload',
  'handler-error',
  'handler-timeout',
  'internal-error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const DROP_CODE: Record<DropReason, ErrorCode> = {
  malformed: ErrorCode.RadiusMalformed,
  'unsupported-code': ErrorCode.RadiusUnsupportedCode,
  'missing-message-authenticator': ErrorCode.RadiusMessageAuthenticatorMissing,
  'bad-message-authenticator': ErrorCode.RadiusBadAuthenticator,
  'proxy-state-without-message-authenticator': ErrorCode.RadiusProxyStateWithoutAuthenticator,
  'bad-password': ErrorCode.RadiusPasswordUndecodable,
  'bad-accounting-authenticator': ErrorCode.RadiusBadAuthenticator,
  overload: ErrorCode.RadiusOverloaded,
  'handler-error': ErrorCode.RadiusHandlerFailed,
  'handler-timeout': ErrorCode.RadiusHandlerFailed,
  'internal-error': ErrorCode.RadiusHandlerFailed,
};

export interface ClientCounters {
  /** Access-Request and Status-Server packets from this client, before validation. */
  requests: number;
  accepts: number;
  rejects: number;
  challenges: number;
  /** Retransmits: ignored while in flight, or answered from the reply cache. */
  duplicates: number;
  statusServer: number;
  accounting: number;
  /** Requests from the client's monitor user (answered without the handler). */
  monitor: number;
  drops: Partial<Record<DropReason, number>>;
}

export interface ClientStatus extends ClientCounters {
  requireMessageAuthenticator: RequireMessageAuthenticator;
  /** True when this client's requests must carry Message-Authenticator (yes, or auto once learned). */
  messageAuthenticatorRequired: boolean;
}

export interface RadiusCounters {
  clients: Record<string, ClientStatus>;
  unknownClients: { drops: number; sources: { address: string; count: number }[] };
  sendErrors: number;
  caches: Record<'duplicates' | 'logKeys' | 'unknownSources' | 'pending', { size: number; capacity: number }>;
}

export interface RadiusStatus {
  /** "udp 127.0.0.1:1812 (auth)" etc. */
  listening: string[];
  clientsWithoutMessageAuthenticator: string[];
  /** Clients whose shared secret is under 16 characters (allowWeakSecret). */
  clientsWithWeakSecret?: string[];
  /** Per client name: requests, accepts, …, and `drops.<reason>`. */
  counters: Record<string, Record<string, number>>;
}

function emptyCounters(): ClientCounters {
  return {
    requests: 0,
    accepts: 0,
    rejects: 0,
    challenges: 0,
    duplicates: 0,
    statusServer: 0,
    accounting: 0,
    monitor: 0,
    drops: {},
  };
}

/** Per-client counters and the unknown sources (newest kept, at most `unknownCap`). */
export class CounterBook {
  private readonly clients = new Map<string, ClientCounters>();
  readonly unknownSources = new Map<string, number>();
  unknownDrops = 0;
  sendErrors = 0;

  constructor(readonly unknownCap: number) {}

  for(name: string): ClientCounters {
    let c = this.clients.get(name);
    if (!c) {
      c = emptyCounters();
      this.clients.set(name, c);
    }
    return c;
  }

  /** Forgets clients no longer configured. */
  keepOnly(names: ReadonlySet<string>): void {
    for (const n of [...this.clients.keys()]) if (!names.has(n)) this.clients.delete(n);
  }

  noteUnknown(address: string): void {
    this.unknownDrops++;
    const n = this.unknownSources.get(address);
    this.unknownSources.delete(address);
    this.unknownSources.set(address, (n ?? 0) + 1);
    while (this.unknownSources.size > this.unknownCap) {
      const oldest = this.unknownSources.keys().next();
      if (oldest.done) break;
      this.unknownSources.delete(oldest.value);
    }
  }
}
