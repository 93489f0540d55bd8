/** What every page shares: the main area, error display, the config view and a live-applied PATCH. */
import { ApiError, api } from './api.ts';
import { say } from './dom.ts';
import { showPending, type Pending } from './pending.ts';

export interface Secret {
  set: boolean;
}
/** A secret as the API shows it, or a new value the admin typed. */
export type SecretField = Secret | string;

export interface Client {
  name: string;
  address: string;
  secret: SecretField;
  requireMessageAuthenticator: string;
  passwordCheck?: string;
  monitorUser?: string;
  monitorPassword?: SecretField;
  acceptAttributes?: [string, string | number][];
  [k: string]: unknown;
}
export interface ModemConfig {
  name: string;
  path: string;
  baudRate: number;
  rtscts: boolean;
  pin?: SecretField;
  profile: string;
  maxPerMinute: number;
}
export interface DirectoryConfig {
  kind: 'none' | 'demo' | 'ldap';
  [k: string]: unknown;
}
export interface ConfigView {
  revision: number;
  config: {
    radius: { clients: Client[]; listen: { address: string; port: number }[] };
    passcode: { smsTemplate: string; prompt: string; length: number; ttlSeconds: number; flash: boolean };
    directory: DirectoryConfig;
    modems: ModemConfig[];
    defaultCountry: string;
    [k: string]: unknown;
  };
}

const main = (): HTMLElement => document.getElementById('main') as HTMLElement;

/** Replaces the page's content. */
export function show(...nodes: (Node | undefined)[]): void {
  main().replaceChildren(...nodes.filter((n): n is Node => n !== undefined));
}

let onLoggedOut: () => void = () => undefined;
export function setLoggedOutHandler(f: () => void): void {
  onLoggedOut = f;
}

/** Shows an API error with each field's path; a lost session goes back to the login. */
export function fail(e: unknown): void {
  if (e instanceof ApiError && e.status === 401) return void onLoggedOut();
  const issues = e instanceof ApiError ? e.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : '';
  say(
    `${e instanceof Error ? e.message : String(e)}${issues && !String(e).includes(issues) ? ` (${issues})` : ''}`,
    'error',
  );
}

export const getConfig = (): Promise<ConfigView> => api<ConfigView>('GET', '/api/config');

/** A merge patch against the latest revision; the box applies it live and says what needs a restart. */
export async function patchConfig(patch: unknown): Promise<void> {
  const cur = await getConfig();
  const r = await api<{ revision: number; restartNeeded: string[]; confirm?: Pending }>(
    'PATCH',
    '/api/config',
    patch,
    { 'if-match': String(cur.revision) },
  );
  say(
    `Saved (revision ${r.revision})${r.restartNeeded.length ? `; restart needed for ${r.restartNeeded.join(', ')}` : ''}`,
    'ok',
  );
  // A change that could lock the admin out rolls itself back unless kept (web-api/rollback.ts).
  if (r.confirm) showPending(r.confirm);
}

/** "set" / "not set" for a write-only secret. */
export const secretState = (s: SecretField | undefined): string =>
  typeof s === 'object' && s.set ? 'set' : 'not set';

/**
 * A write-only secret's value for a save: what the admin typed, else {"set": true} to keep the
 * stored one (when there is one), else nothing.
 */
export function secretValue(typed: string, stored: SecretField | undefined): SecretField | undefined {
  if (typed !== '') return typed;
  return typeof stored === 'object' && stored.set ? { set: true } : undefined;
}

export interface ModemHealth {
  name: string;
  state: string;
  detail?: string;
  bars?: number;
  dbm?: number;
  operator?: string;
  roaming?: boolean;
  identity?: { manufacturer?: string; model?: string; imei?: string; iccid?: string };
  sentCount: number;
  failedCount: number;
  /** Wall ms of the last successful send. */
  lastSentAt?: number;
}
export interface Health {
  status: string;
  problems: string[];
  modems: ModemHealth[];
  directory: { state: string; server?: string; lastSync?: unknown; [k: string]: unknown };
  radius: {
    listening: string[];
    clientsWithoutMessageAuthenticator: string[];
    counters: Record<string, Record<string, number>>;
  };
  outbox?: { queued: number; inFlight: number; sent: number; failed: number; expired: number };
}

export const getHealth = (): Promise<Health> => api<Health>('GET', '/api/health');

/** "4/5 (-71 dBm)" or "". */
export const signal = (m: ModemHealth): string =>
  m.bars === undefined ? '' : `${m.bars}/5${m.dbm === undefined ? '' : ` (${m.dbm} dBm)`}`;
