/**
 * The admin's actions on the auth policy, one implementation for both ways in: the `mfabox`
 * command on the store when the service is stopped, and the web API (which the command calls over
 * loopback while the service holds the store). Every change is audited durably with the acting
 * admin. Results are plain JSON and hold no secret, except the one thing an action exists to hand
 * out once: an override code, or a new token's otpauth:// URI.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { AdminAction, AuditRecord } from '../audit/records.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import { USERS_TABLE, type UserRecord } from '../directory/users.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { maskNumber, normaliseNumber } from '../phone.ts';
import type { Store } from '../store/store.ts';
import { parseCallingStationId } from './calling-station.ts';
import type { AuthGuard } from './guard.ts';
import type { LockState } from './lockout.ts';
import { normaliseLogin } from './login.ts';
import type { OathParams } from './oath.ts';
import { MAX_TTL_MS, MAX_USES, MIN_TTL_MS, overrideInfo, type OverrideInfo } from './override-codes.ts';
import { explainLines } from './policy.ts';
import { parseTokenCsv } from './token-csv.ts';
import { tokenInfo, type TokenInfo } from './tokens.ts';

export interface UserReport {
  user: string;
  lock: LockState;
  /** From the synced user list, when the user is in it. */
  directory?: {
    dn: string;
    mobile?: string;
    secondaryMobile?: string;
    boxSecondaryMobile?: string;
    email?: string;
    groups: string[];
  };
  tokens: TokenInfo[];
  overrides: OverrideInfo[];
  ipHistory: { ip: string; at: number }[];
  /** Newest first: the user's last RADIUS decisions and admin actions. */
  recent: AuditRecord[];
  /**
   * Newest first: the user's last SMS events. Kept apart from `recent` because each login writes
   * three or four of them (queued, sent, delivered), which would push the logins and the admin
   * actions an admin looks for out of a short list.
   */
  sms: AuditRecord[];
}

export interface ExplainResult {
  user: string;
  found: 'directory' | 'user list' | 'not found';
  groups: string[];
  ip?: string;
  client: string;
  at: string;
  outcome: string;
  lines: string[];
}

export interface AuthAdminDeps {
  store: Store;
  guard: AuthGuard;
  audit: AuditLog;
  clock: Clock;
  config: () => Config;
  /** For `explain`: the live groups of the user (optional: the synced list is the fallback). */
  directory?: Directory;
}

function account(user: string): string {
  const l = normaliseLogin(user);
  if (!l) throw new MfaError(`"${user}" is not a user name`, ErrorCode.CliUsage, { field: 'user' });
  return l.account;
}

export class AuthAdmin {
  constructor(private readonly deps: AuthAdminDeps) {}

  async showUser(user: string): Promise<UserReport> {
    const u = account(user);
    const { guard, store, audit } = this.deps;
    const rec = await store.table<UserRecord>(USERS_TABLE).get(u);
    const recent: AuditRecord[] = [];
    for await (const e of audit.query({ user: u, kinds: ['radius', 'admin'] }, { order: 'desc', limit: 10 }))
      recent.push(e.record);
    const sms: AuditRecord[] = [];
    for await (const e of audit.query({ user: u, kinds: ['sms'] }, { order: 'desc', limit: 5 }))
      sms.push(e.record);
    return {
      user: u,
      lock: await guard.lockout.state(u),
      ...(rec
        ? {
            directory: {
              dn: rec.dn,
              groups: rec.groups,
              ...(rec.mobile === undefined ? {} : { mobile: rec.mobile }),
              ...(rec.secondaryMobile === undefined ? {} : { secondaryMobile: rec.secondaryMobile }),
              ...(rec.email === undefined ? {} : { email: rec.email }),
              ...(rec.overrides?.secondaryMobile === undefined
                ? {}
                : { boxSecondaryMobile: rec.overrides.secondaryMobile }),
            },
          }
        : {}),
      tokens: (await guard.tokens.list(u)).map(tokenInfo),
      overrides: (await guard.overrides.list(u)).map(overrideInfo),
      ipHistory: await guard.ipHistory.recent(u),
      recent,
      sms,
    };
  }

  async unlock(user: string, actor: string, source?: string): Promise<{ user: string; was: LockState }> {
    const u = account(user);
    const was = await this.deps.guard.lockout.unlock(u);
    await this.audited(
      'unlock',
      actor,
      source,
      u,
      was.locked
        ? `was locked after ${was.count} wrong codes`
        : `was not locked (${was.count} wrong codes cleared)`,
    );
    return { user: u, was };
  }

  async enrolToken(
    user: string,
    params: OathParams,
    actor: string,
    source?: string,
  ): Promise<{ user: string; uri: string; token: TokenInfo }> {
    const u = account(user);
    const { uri, record } = await this.deps.guard.tokens.enrol(u, params, actor);
    await this.audited(
      'token-enrolled',
      actor,
      source,
      u,
      `${params.type} ${params.digits} digits, token ${record.id}`,
    );
    return { user: u, uri, token: tokenInfo(record) };
  }

  /** Imports hardware-token seeds; a bad line is reported and skipped, the good ones are stored. */
  async importTokens(
    csv: string,
    actor: string,
    source?: string,
  ): Promise<{ imported: { user: string; serial?: string; id: string }[]; errors: string[] }> {
    const parsed = parseTokenCsv(csv);
    const imported: { user: string; serial?: string; id: string }[] = [];
    for (const row of parsed.rows) {
      const u = account(row.user);
      const rec = await this.deps.guard.tokens.add(u, row.seed, row.params, {
        by: actor,
        source: 'import',
        counter: row.counter,
        ...(row.serial === undefined ? {} : { serial: row.serial }),
      });
      imported.push({ user: u, id: rec.id, ...(row.serial === undefined ? {} : { serial: row.serial }) });
      await this.audited(
        'token-enrolled',
        actor,
        source,
        u,
        `imported ${row.params.type}${row.serial === undefined ? '' : ` serial ${row.serial}`}, token ${rec.id}`,
      );
    }
    return { imported, errors: parsed.errors };
  }

  async removeToken(user: string, id: string, actor: string, source?: string): Promise<boolean> {
    const u = account(user);
    const gone = await this.deps.guard.tokens.remove(u, id);
    await this.audited(
      'token-removed',
      actor,
      source,
      u,
      `token ${id}${gone ? '' : ' not found'}`,
      gone ? 'ok' : 'failed',
    );
    return gone;
  }

  async issueOverride(
    user: string,
    opts: { ttlMs: number; uses: number; reason?: string },
    actor: string,
    source?: string,
  ): Promise<{ user: string; code: string; expiresAt: number; uses: number; id: string }> {
    const u = account(user);
    if (!(opts.ttlMs >= MIN_TTL_MS && opts.ttlMs <= MAX_TTL_MS))
      throw new MfaError('the TTL must be between 5 minutes and 30 days', ErrorCode.CliUsage, {
        field: 'ttl',
      });
    if (!(Number.isInteger(opts.uses) && opts.uses >= 1 && opts.uses <= MAX_USES))
      throw new MfaError(`uses must be 1–${MAX_USES}`, ErrorCode.CliUsage, { field: 'uses' });
    const { code, record } = await this.deps.guard.overrides.issue(u, { ...opts, by: actor });
    await this.audited(
      'override-issued',
      actor,
      source,
      u,
      `code ${record.id}: ${opts.uses} use(s) until ${new Date(record.expiresAt).toISOString()}${opts.reason ? `; ${opts.reason}` : ''}`,
    );
    return { user: u, code, expiresAt: record.expiresAt, uses: opts.uses, id: record.id };
  }

  /** Audits one admin action on a user's account, durably, before the action is answered. */
  private audited(
    action: AdminAction,
    actor: string,
    source: string | undefined,
    user: string,
    detail: string,
    outcome: 'ok' | 'failed' = 'ok',
  ): Promise<void> {
    return this.deps.audit.recordDurable({
      kind: 'admin',
      action,
      actor,
      ...(source === undefined ? {} : { source }),
      user,
      outcome,
      detail,
    });
  }

  /**
   * Sets (or with `undefined` clears) the secondary number kept on the box for a synced user: the
   * `sms-secondary` method uses it before the directory's secondary attribute, and the sync keeps
   * it. Stored in E.164 under the config's country and number check.
   */
  async setSecondaryNumber(
    user: string,
    raw: string | undefined,
    actor: string,
    source?: string,
  ): Promise<{ user: string; secondaryMobile?: string; was?: string }> {
    const u = account(user);
    const cfg = this.deps.config();
    let e164: string | undefined;
    if (raw !== undefined) {
      const n = normaliseNumber(raw, cfg.defaultCountry, {
        acceptPossible: cfg.directory.acceptPossibleNumbers,
      });
      if (!n.ok) throw new MfaError(`"${raw}": ${n.reason}`, ErrorCode.CliUsage, { field: 'number' });
      e164 = n.e164;
    }
    const users = this.deps.store.table<UserRecord>(USERS_TABLE);
    const rec = await users.get(u);
    if (!rec)
      throw new MfaError(
        `${u} is not in the synced user list: run \`mfabox directory sync\` first`,
        ErrorCode.CliUsage,
        { field: 'user' },
      );
    const was = rec.overrides?.secondaryMobile;
    const { secondaryMobile: _old, ...otherOverrides } = rec.overrides ?? {};
    const overrides = e164 === undefined ? otherOverrides : { ...otherOverrides, secondaryMobile: e164 };
    const { overrides: _drop, ...rest } = rec;
    await users.put(u, Object.keys(overrides).length === 0 ? rest : { ...rest, overrides });
    await this.deps.audit.recordDurable({
      kind: 'admin',
      action: 'secondary-number-set',
      actor,
      ...(source === undefined ? {} : { source }),
      user: u,
      outcome: 'ok',
      detail: `${was === undefined ? '(none)' : maskNumber(was)} → ${e164 === undefined ? '(none)' : maskNumber(e164)}`,
    });
    return {
      user: u,
      ...(e164 === undefined ? {} : { secondaryMobile: e164 }),
      ...(was === undefined ? {} : { was }),
    };
  }

  /** What the policy would decide for this user, from this IP and client, at this time. */
  async explain(q: { user: string; ip?: string; client?: string; at?: number }): Promise<ExplainResult> {
    const u = account(q.user);
    const cfg = this.deps.config();
    let groups: string[] = [];
    let groupDns: string[] | undefined;
    let found: ExplainResult['found'] = 'not found';
    const live = await this.deps.directory?.findUser(u);
    if (live) {
      groups = live.groups;
      groupDns = live.groupDns;
      found = 'directory';
    } else {
      const rec = await this.deps.store.table<UserRecord>(USERS_TABLE).get(u);
      if (rec) {
        groups = rec.groups;
        found = 'user list';
      }
    }
    const clientIp = q.ip === undefined ? undefined : parseCallingStationId(q.ip);
    if (q.ip !== undefined && !clientIp)
      throw new MfaError(`"${q.ip}" is not an IP address`, ErrorCode.CliUsage, { field: 'ip' });
    const client = q.client ?? cfg.radius.clients[0]?.name ?? '(none)';
    const now = q.at ?? this.deps.clock.now();
    const verdict = await this.deps.guard.decide(cfg.policy, {
      user: { username: u, groups, ...(groupDns ? { groupDns } : {}) },
      clientIp,
      client,
      now,
    });
    const outcome =
      verdict.action === 'challenge'
        ? `challenge with chain "${verdict.chain}" (${(cfg.methods.chains[verdict.chain] ?? []).join(' → ')})`
        : verdict.action;
    return {
      user: u,
      found,
      groups,
      ...(clientIp ? { ip: clientIp.address } : {}),
      client,
      at: new Date(now).toISOString(),
      outcome,
      lines: explainLines(verdict),
    };
  }
}
