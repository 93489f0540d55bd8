/**
 * `mfabox user show|unlock`, `mfabox token enrol|import`, `mfabox override issue` and
 * `mfabox policy explain`. Each works on the store when the service is stopped, and through the
 * running service's local API (loopback) when it holds the store, like `directory sync`.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { AuthAdmin, type ExplainResult, type UserReport } from '../auth/admin.ts';
import { openGeoip } from '../auth/geoip.ts';
import { AuthGuard, guardSettings } from '../auth/guard.ts';
import { parseDuration } from '../auth/override-codes.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuditRecord } from '../audit/records.ts';
import { cryptoRandom, systemClock } from '../clock.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createDirectory } from '../directory/factory.ts';
import { openKeyFor } from '../store/open-key.ts';
import type { Store } from '../store/store.ts';
import { defineCommand, usageError } from './command.ts';
import { callLocalApi, configOption, onStoreOrService } from './local-service.ts';

const byOption = {
  type: 'string',
  value: 'NAME',
  help: 'the admin doing this, for the audit log (default cli:<your login>)',
} as const;

function actor(by: string | undefined): string {
  if (by !== undefined) return by;
  let name = process.env.SUDO_USER ?? '';
  if (name === '')
    try {
      name = userInfo().username;
    } catch {
      name = '';
    }
  return name === '' ? 'cli' : `cli:${name}`.slice(0, 64);
}

/** The admin actions on this store (the offline path). */
async function withAdmin<T>(
  config: Config,
  store: Store,
  fn: (a: AuthAdmin) => Promise<T>,
  live = false,
): Promise<T> {
  const deviceKey = (await openKeyFor(config)).raw();
  // The same country lookup as the service, so `policy explain` on a stopped box agrees with it.
  const geoip = live ? await openGeoip(config.policy.geoipFile) : undefined;
  const guard = new AuthGuard(
    store,
    systemClock,
    cryptoRandom,
    deviceKey,
    () => guardSettings(config),
    ...(geoip ? [geoip] : []),
  );
  const audit = new AuditLog(store, systemClock);
  const directory = live ? await createDirectory(config.directory, { start: false }) : undefined;
  try {
    return await fn(
      new AuthAdmin({
        store,
        guard,
        audit,
        clock: systemClock,
        config: () => config,
        ...(directory ? { directory } : {}),
      }),
    );
  } finally {
    await audit.stop();
    await directory?.close();
  }
}

const enc = encodeURIComponent;
const when = (ms: number | undefined): string =>
  ms === undefined ? 'until an admin unlocks' : new Date(ms).toISOString();

function printReport(r: UserReport): void {
  console.log(`user:      ${r.user}`);
  console.log(
    `lock:      ${r.lock.locked ? `LOCKED ${when(r.lock.until)} (step ${r.lock.level})` : 'not locked'}; ${r.lock.count} wrong code(s) counted`,
  );
  if (r.directory) {
    console.log(`dn:        ${r.directory.dn}`);
    console.log(`groups:    ${r.directory.groups.join(', ') || '(none)'}`);
    console.log(
      `numbers:   primary ${r.directory.mobile ?? '(none)'}, secondary ${r.directory.boxSecondaryMobile ?? r.directory.secondaryMobile ?? '(none)'}${r.directory.boxSecondaryMobile ? ' (set on the box)' : ''}`,
    );
    if (r.directory.email) console.log(`email:     ${r.directory.email}`);
  } else console.log('directory: not in the synced user list');
  console.log(`tokens:    ${r.tokens.length === 0 ? '(none)' : ''}`);
  for (const t of r.tokens)
    console.log(
      `  ${t.id}  ${t.type} ${t.digits} digits${t.serial ? ` serial ${t.serial}` : ''}, ${t.source} by ${t.createdBy} ${new Date(t.createdAt).toISOString()}, last used ${t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : 'never'}`,
    );
  console.log(`overrides: ${r.overrides.length === 0 ? '(none live)' : ''}`);
  for (const o of r.overrides)
    console.log(
      `  ${o.id}  ${o.usesLeft} use(s) left until ${new Date(o.expiresAt).toISOString()}, issued by ${o.issuedBy}`,
    );
  console.log(
    `from IPs:  ${r.ipHistory.map((h) => `${h.ip} (${new Date(h.at).toISOString()})`).join(', ') || '(none)'}`,
  );
  console.log('recent:');
  for (const a of r.recent) console.log(`  ${describeRecord(a)}`);
  if (r.recent.length === 0) console.log('  (nothing in the audit log)');
  console.log(`recent SMS:${r.sms.length === 0 ? ' (none)' : ''}`);
  for (const a of r.sms) console.log(`  ${describeRecord(a)}`);
}

function describeRecord(a: AuditRecord): string {
  const t = new Date(a.t).toISOString();
  if (a.kind === 'radius')
    return `${t}  ${a.outcome.padEnd(9)} ${a.reason}${a.method ? ` [${a.method}]` : ''}${a.clientIp ? ` from ${a.clientIp}` : ''}${a.rule ? ` rule ${a.rule}` : ''}`;
  if (a.kind === 'admin')
    return `${t}  admin     ${a.action} by ${a.actor}${a.detail ? `: ${a.detail}` : ''}`;
  return `${t}  sms       ${a.event}${a.to ? ` to ${a.to}` : ''}`;
}

function printExplain(r: ExplainResult): void {
  console.log(`user ${r.user} (groups from ${r.found}: ${r.groups.join(', ') || 'none'})`);
  console.log(`from ${r.ip ?? 'an unknown IP'} through client ${r.client} at ${r.at}`);
  console.log('');
  for (const l of r.lines) console.log(l);
  console.log('');
  console.log(`→ ${r.outcome}`);
}

const userArg = { value: 'USER', help: 'the login name', required: true } as const;

export const userShowCommand = defineCommand({
  name: 'user show',
  summary: 'Lock state, counters, numbers, tokens, override codes and recent logins of a user',
  options: { config: configOption },
  args: userArg,
  async run({ values, args }) {
    const config = await loadConfigFile(values.config);
    const user = args[0] ?? '';
    const { result } = await onStoreOrService(
      config,
      'user show',
      (store) => withAdmin(config, store, (a) => a.showUser(user)),
      () => callLocalApi(config, 'GET', `/api/auth/users/${enc(user)}`),
      (r) => r.body as UserReport,
    );
    printReport(result);
    return 0;
  },
});

export const userUnlockCommand = defineCommand({
  name: 'user unlock',
  summary: 'Clear a lock after wrong codes, and the count of wrong codes (audited)',
  options: { config: configOption, by: byOption },
  args: userArg,
  async run({ values, args }) {
    const config = await loadConfigFile(values.config);
    const user = args[0] ?? '';
    const by = actor(values.by);
    const { result } = await onStoreOrService(
      config,
      'user unlock',
      (store) => withAdmin(config, store, (a) => a.unlock(user, by)),
      () => callLocalApi(config, 'POST', `/api/auth/users/${enc(user)}/unlock`, { actor: by }),
      (r) => r.body as Awaited<ReturnType<AuthAdmin['unlock']>>,
    );
    console.log(
      result.was.locked
        ? `${result.user} unlocked (was locked ${when(result.was.until)} after ${result.was.count} wrong codes)`
        : `${result.user} was not locked; ${result.was.count} wrong code(s) cleared`,
    );
    return 0;
  },
});

export const userSecondaryCommand = defineCommand({
  name: 'user secondary',
  summary: 'Set the secondary SMS number kept on the box for a user (the sms-secondary method), or clear it',
  details:
    'The number set here wins over the directory secondary attribute and survives every sync. The user must be in the synced user list.',
  options: {
    config: configOption,
    number: { type: 'string', value: 'NUMBER', help: 'the number, e.g. +49 160 1234567 (E.164 or national)' },
    clear: { type: 'boolean', help: 'remove the number set on the box' },
    by: byOption,
  },
  args: userArg,
  async run({ values, args }) {
    if ((values.number === undefined) === (values.clear !== true))
      throw usageError('user secondary: give --number NUMBER or --clear', 'number');
    const config = await loadConfigFile(values.config);
    const user = args[0] ?? '';
    const by = actor(values.by);
    const { result } = await onStoreOrService(
      config,
      'user secondary',
      (store) => withAdmin(config, store, (a) => a.setSecondaryNumber(user, values.number, by)),
      () =>
        callLocalApi(config, 'POST', `/api/auth/users/${enc(user)}/secondary`, {
          number: values.number ?? null,
          actor: by,
        }),
      (r) => r.body as Awaited<ReturnType<AuthAdmin['setSecondaryNumber']>>,
    );
    console.log(
      result.secondaryMobile === undefined
        ? `${result.user}: no secondary number on the box (the directory's is used, if any)`
        : `${result.user}: secondary number ${result.secondaryMobile} (set on the box)`,
    );
    return 0;
  },
});

export const tokenEnrolCommand = defineCommand({
  name: 'token enrol',
  summary: 'Give a user a software token (TOTP or HOTP): prints the otpauth:// URI for an authenticator app',
  details:
    'The URI holds the secret: show it to the user (a QR code from the web page, or type it in) and do not keep it. The box stores the secret encrypted with a subkey of the device key.',
  options: {
    config: configOption,
    user: { type: 'string', value: 'USER', help: 'the login name', required: true },
    type: { type: 'string', value: 'TYPE', help: 'token type', choices: ['totp', 'hotp'], default: 'totp' },
    digits: { type: 'integer', value: 'N', help: 'code length', min: 6, max: 8, default: 6 },
    by: byOption,
  },
  async run({ values }) {
    if (values.digits === 7) throw usageError('token enrol: --digits must be 6 or 8', 'digits');
    const config = await loadConfigFile(values.config);
    const by = actor(values.by);
    const digits = values.digits === 8 ? 8 : 6;
    const type = values.type;
    const { result } = await onStoreOrService(
      config,
      'token enrol',
      (store) =>
        withAdmin(config, store, (a) =>
          a.enrolToken(values.user, { type, digits, algorithm: 'SHA1', period: 30 }, by),
        ),
      () =>
        callLocalApi(config, 'POST', `/api/auth/users/${enc(values.user)}/tokens`, {
          type,
          digits,
          actor: by,
        }),
      (r) => r.body as Awaited<ReturnType<AuthAdmin['enrolToken']>>,
    );
    console.log(result.uri);
    console.log(
      `token ${result.token.id} for ${result.user}: ${type} ${digits} digits; the URI above is shown once.`,
    );
    return 0;
  },
});

export const tokenImportCommand = defineCommand({
  name: 'token import',
  summary:
    'Import hardware-token seeds from a CSV file (user,seed_hex|seed_base32[,type,digits,period,algorithm,counter,serial])',
  details: 'Exit codes: 0 all lines imported, 1 some lines refused (the good ones are imported).',
  options: { config: configOption, by: byOption },
  args: { value: 'FILE', help: 'the CSV file (see firmware/src/auth/README.md)', required: true },
  async run({ values, args }) {
    const config = await loadConfigFile(values.config);
    const csv = await readFile(args[0] ?? '', 'utf8');
    const by = actor(values.by);
    const { result } = await onStoreOrService(
      config,
      'token import',
      (store) => withAdmin(config, store, (a) => a.importTokens(csv, by)),
      () => callLocalApi(config, 'POST', '/api/auth/tokens/import', { csv, actor: by }),
      (r) => r.body as Awaited<ReturnType<AuthAdmin['importTokens']>>,
    );
    for (const t of result.imported)
      console.log(`imported ${t.user}${t.serial ? ` serial ${t.serial}` : ''} (token ${t.id})`);
    for (const e of result.errors) console.error(`refused ${e}`);
    console.log(`${result.imported.length} imported, ${result.errors.length} refused`);
    return result.errors.length === 0 ? 0 : 1;
  },
});

export const overrideIssueCommand = defineCommand({
  name: 'override issue',
  summary: 'Issue an emergency override code for a user: the code alone on the first line, then its terms',
  options: {
    config: configOption,
    user: { type: 'string', value: 'USER', help: 'the login name', required: true },
    ttl: {
      type: 'string',
      value: 'DURATION',
      help: 'how long it is valid: 15m, 1h, 2d (5m–30d)',
      default: '1h',
    },
    uses: { type: 'integer', value: 'N', help: 'how many logins it lets in', min: 1, max: 100, default: 1 },
    reason: { type: 'string', value: 'TEXT', help: 'why, for the audit log' },
    by: byOption,
  },
  async run({ values }) {
    const ttlMs = parseDuration(values.ttl);
    if (ttlMs === undefined)
      throw usageError(`override issue: --ttl "${values.ttl}" is not a duration like 15m, 1h or 2d`, 'ttl');
    const config = await loadConfigFile(values.config);
    const by = actor(values.by);
    const opts = {
      ttlMs,
      uses: values.uses,
      ...(values.reason === undefined ? {} : { reason: values.reason }),
    };
    const { result } = await onStoreOrService(
      config,
      'override issue',
      (store) => withAdmin(config, store, (a) => a.issueOverride(values.user, opts, by)),
      () =>
        callLocalApi(config, 'POST', `/api/auth/users/${enc(values.user)}/overrides`, {
          ttl: values.ttl,
          uses: values.uses,
          ...(values.reason === undefined ? {} : { reason: values.reason }),
          actor: by,
        }),
      (r) => r.body as Awaited<ReturnType<AuthAdmin['issueOverride']>>,
    );
    console.log(result.code);
    console.log(
      `for ${result.user}: ${result.uses} use(s) until ${new Date(result.expiresAt).toISOString()}; typed at the passcode prompt. Issued by ${by} (audited).`,
    );
    return 0;
  },
});

export const policyExplainCommand = defineCommand({
  name: 'policy explain',
  summary: 'Which rule would decide a login, and why, condition by condition',
  options: {
    config: configOption,
    user: { type: 'string', value: 'USER', help: 'the login name', required: true },
    ip: { type: 'string', value: 'ADDRESS', help: 'the end-user IP (Calling-Station-Id)' },
    client: { type: 'string', value: 'NAME', help: 'the RADIUS client (default: the first configured)' },
    at: {
      type: 'string',
      value: 'TIME',
      help: 'when, ISO 8601 (default now), e.g. 2026-03-04T08:30:00+01:00',
    },
  },
  async run({ values }) {
    const at = values.at === undefined ? undefined : Date.parse(values.at);
    if (at !== undefined && Number.isNaN(at))
      throw usageError(`policy explain: --at "${values.at}" is not an ISO time`, 'at');
    const config = await loadConfigFile(values.config);
    const q = {
      user: values.user,
      ...(values.ip === undefined ? {} : { ip: values.ip }),
      ...(values.client === undefined ? {} : { client: values.client }),
      ...(at === undefined ? {} : { at }),
    };
    const search = new URLSearchParams({
      user: values.user,
      ...(values.ip === undefined ? {} : { ip: values.ip }),
      ...(values.client === undefined ? {} : { client: values.client }),
      ...(at === undefined ? {} : { at: new Date(at).toISOString() }),
    });
    const { result } = await onStoreOrService(
      config,
      'policy explain',
      (store) => withAdmin(config, store, (a) => a.explain(q), true),
      () => callLocalApi(config, 'GET', `/api/auth/explain?${search.toString()}`),
      (r) => r.body as ExplainResult,
    );
    printExplain(result);
    return 0;
  },
});

export const AUTH_COMMANDS = [
  userShowCommand,
  userUnlockCommand,
  userSecondaryCommand,
  tokenEnrolCommand,
  tokenImportCommand,
  overrideIssueCommand,
  policyExplainCommand,
];
