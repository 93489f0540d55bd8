/**
 * `mfabox directory test` and `mfabox directory sync`. The test walks each DC step by step (DNS,
 * TCP, TLS, bind, search) and says in plain words which step failed and what usually fixes it.
 */
import { lookup, resolveSrv } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { loadConfigFile } from '../config/load.ts';
import type { Config, LdapDirectoryConfig } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError, isMfaError } from '../errors.ts';
import { LdapConnection, brief, stepOf, type Step } from '../directory/connection.ts';
import {
  dialectSettings,
  groupLookupFilter,
  isDn,
  parseLogin,
  userAttributes,
  userSearchFilter,
  entryToUser,
} from '../directory/dialects.ts';
import { srvToUrls } from '../directory/failover.ts';
import { createDirectory, createSync } from '../directory/factory.ts';
import { createLdapDirectory } from '../directory/ldap.ts';
import type { SyncStatus } from '../directory/sync.ts';
import { openStore, type Store } from '../store/store.ts';
import { loopbackTarget } from '../web-api/loopback.ts';
import { callSyncApi, targetUrl } from '../web-api/sync-client.ts';
import { parseFlags, type Command } from './command.ts';

const HINTS: Record<Step, string> = {
  DNS: 'the DC name does not resolve: check the URL and the box’s DNS server',
  TCP: 'nothing answers on that port: check the URL, the port (636 ldaps, 389 StartTLS) and firewalls',
  TLS: 'the certificate was refused: caFile must hold the CA that signed the DC certificate, the URL host (or tlsServerName) must match the certificate, and the box clock must be right',
  bind: 'the service account was refused: check bindDn (DN or UPN) and bindPassword, and that the account is enabled',
  search:
    'connected and bound, but the search failed: check baseDn, group and the service account’s read rights',
  timeout: 'the DC accepted the connection but did not answer in time',
  config: 'the configuration refuses this (plain LDAP without StartTLS): set startTls or use ldaps://',
};

function usageError(msg: string): MfaError {
  return new MfaError(msg, ErrorCode.CliUsage);
}

async function ldapConfig(file: string): Promise<LdapDirectoryConfig | undefined> {
  const cfg = await loadConfigFile(file);
  return cfg.directory.kind === 'ldap' ? cfg.directory : undefined;
}

type Out = (line: string) => void;

async function testOne(
  cfg: LdapDirectoryConfig,
  url: string,
  ca: string | undefined,
  user: string | undefined,
  out: Out,
): Promise<boolean> {
  out(`${url}`);
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'ldaps:' ? 636 : 389));
  const ok = (step: string, what: string) => out(`  ok      ${step.padEnd(7)} ${what}`);
  const fail = (step: Step, e: unknown): false => {
    out(`  FAILED  ${step.padEnd(7)} ${brief(e)}`);
    out(`          → ${HINTS[step]}`);
    return false;
  };
  const budget = Math.max(cfg.timeoutMs, 5000);
  // DNS
  if (net.isIP(host) === 0) {
    try {
      const a = await lookup(host, { all: true });
      ok('DNS', `${host} → ${a.map((x) => x.address).join(', ')}`);
    } catch (e) {
      return fail('DNS', e);
    }
  }
  // TCP
  try {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host, port });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`no TCP connection within ${budget} ms`));
      }, budget);
      s.once('connect', () => {
        clearTimeout(t);
        s.destroy();
        resolve();
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    ok('TCP', `${host}:${port} accepts connections`);
  } catch (e) {
    return fail('TCP', e);
  }
  // TLS
  let conn: LdapConnection;
  try {
    const tls = {
      ...(ca === undefined ? {} : { ca }),
      ...(cfg.tlsServerName === undefined ? {} : { servername: cfg.tlsServerName }),
    };
    conn = await LdapConnection.open({
      url,
      startTls: cfg.startTls,
      allowInsecure: cfg.allowInsecure,
      tls,
      budgetMs: budget,
    });
    if (conn.isSecure || cfg.startTls)
      ok(
        'TLS',
        `${u.protocol === 'ldaps:' ? 'LDAPS' : 'StartTLS'}, certificate valid for ${conn.tlsName}${ca ? ' (CA pinned)' : ''}`,
      );
    else out('  WARN    TLS     none: plain LDAP (allowInsecure), passwords cross the network in clear');
  } catch (e) {
    const step = stepOf(e);
    return fail(step === 'timeout' ? 'TLS' : step, e);
  }
  try {
    // bind
    try {
      await conn.within('bind', budget, (c) => c.bind(cfg.bindDn, cfg.bindPassword));
      ok('bind', `as ${cfg.bindDn}`);
    } catch (e) {
      return fail('bind', e);
    }
    // search
    const s = dialectSettings(cfg);
    try {
      let groupDn = cfg.group;
      if (!isDn(cfg.group)) {
        const r = await conn.within('search', budget, (c) =>
          c.search(cfg.baseDn, {
            scope: 'sub',
            filter: groupLookupFilter(s, cfg.group),
            attributes: ['1.1'],
            sizeLimit: 2,
          }),
        );
        if (r.searchEntries.length !== 1)
          throw new MfaError(
            `group "${cfg.group}": ${r.searchEntries.length} entries under ${cfg.baseDn}`,
            ErrorCode.DirectoryGroupNotFound,
          );
        groupDn = r.searchEntries[0]?.dn ?? '';
      }
      ok('search', `group ${groupDn}`);
      if (user !== undefined) {
        const login = parseLogin(user);
        if (!login) throw usageError(`"${user}" is not a login name`);
        const r = await conn.within('search', budget, (c) =>
          c.search(cfg.baseDn, {
            scope: 'sub',
            filter: userSearchFilter(s, login),
            attributes: userAttributes(s),
            sizeLimit: 2,
          }),
        );
        const e = r.searchEntries[0];
        if (!e) out(`  note    search  user "${user}" not found`);
        else {
          const m = entryToUser(s, e);
          ok(
            'search',
            `user ${m.dn}: numbers [${m.mobiles.join(', ')}], groups [${m.groups.join(', ')}]${m.disabled ? ', DISABLED' : ''}`,
          );
        }
      }
    } catch (e) {
      return fail('search', e);
    }
  } finally {
    await conn.close();
  }
  return true;
}

export const directoryTestCommand: Command = {
  name: 'directory test',
  usage: 'directory test --config FILE [--user NAME]',
  summary: 'Connect, bind and search on every DC; says which step fails (DNS, TCP, TLS, bind, search)',
  async run(args) {
    const { flags } = parseFlags(args);
    const file = flags.get('config');
    if (typeof file !== 'string') throw usageError('directory test: --config FILE is required');
    const user = flags.get('user');
    const cfg = await ldapConfig(file);
    if (!cfg) {
      console.log('directory.kind is "demo": the in-memory demo directory needs no test.');
      return 0;
    }
    // The same checks of the CA bundle the appliance makes (readable, PEM).
    await (await createLdapDirectory(cfg)).close();
    const ca = cfg.caFile === undefined ? undefined : await readFile(cfg.caFile, 'utf8');
    const urls = [...cfg.urls];
    if (cfg.srvDomain !== undefined) {
      const name = `_ldap._tcp.dc._msdcs.${cfg.srvDomain}`;
      try {
        const found = srvToUrls(await resolveSrv(name), cfg.srvUseLdaps);
        console.log(`ok      DNS SRV ${name} → ${found.join(', ') || '(none)'}`);
        for (const x of found) if (!urls.includes(x)) urls.push(x);
      } catch (e) {
        console.log(`FAILED  DNS SRV ${name}: ${brief(e)}\n        → ${HINTS.DNS}`);
      }
    }
    let good = 0;
    for (const url of urls)
      if (await testOne(cfg, url, ca, typeof user === 'string' ? user : undefined, console.log)) good++;
    console.log(`\n${good} of ${urls.length} domain controller(s) passed.`);
    return good === urls.length && urls.length > 0 ? 0 : 1;
  },
};

function printStatus(s: SyncStatus): void {
  console.log(`state:     ${s.state}${s.confirmed ? ' (confirmed)' : ''}`);
  console.log(`group:     ${s.group}`);
  console.log(`duration:  ${s.durationMs ?? 0} ms`);
  console.log(
    `members:   ${s.seen}  added ${s.added}  updated ${s.updated}  removed ${s.removed}  unchanged ${s.unchanged}  skipped ${s.skippedCount}`,
  );
  for (const k of s.skipped)
    console.log(`  skipped ${k.username}: ${k.reason}${k.detail ? ` (${k.detail})` : ''}`);
  if (s.skippedCount > s.skipped.length)
    console.log(`  … and ${s.skippedCount - s.skipped.length} more skipped`);
  for (const k of s.warnings)
    console.log(`  warning ${k.username}: ${k.reason}${k.detail ? ` (${k.detail})` : ''}`);
  if (s.pendingRemovals)
    console.log(
      `\nThis sync would remove ${s.pendingRemovals.count} users (${s.pendingRemovals.percent} %, limit ${s.pendingRemovals.limitPercent} %): ` +
        `${s.pendingRemovals.sample.join(', ')}${s.pendingRemovals.count > s.pendingRemovals.sample.length ? ', …' : ''}\n` +
        'Nothing was removed. If this is right, run again with --confirm.',
    );
  if (s.error) console.log(`error:     ${s.error}`);
}

/** Exit code for a sync that ran: 0 ok, 3 removals held for confirmation, 1 anything else. */
function exitCodeOf(s: SyncStatus): number {
  return s.state === 'ok' ? 0 : s.state === 'needs-confirmation' ? 3 : 1;
}

/** Why the store did not open, in plain words: a held lock means the service has it. */
export function storeReason(dataDir: string, e: unknown): { locked: boolean; text: string } {
  for (let c: unknown = e; c instanceof Error; c = c.cause)
    if ((c as NodeJS.ErrnoException).code === 'LEVEL_LOCKED')
      return {
        locked: true,
        text: `the store at ${dataDir} is in use by another process (a running mfabox)`,
      };
  let deepest: unknown = e;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  return { locked: false, text: `cannot open the store at ${dataDir}: ${brief(deepest)}` };
}

/** The offline path: this process opens the store and the directory and runs the sync itself. */
async function syncHere(config: Config, store: Store, confirm: boolean): Promise<number> {
  const directory = await createDirectory(config.directory, { start: false });
  try {
    const sync = createSync(config, directory, store);
    let status: SyncStatus;
    try {
      status = await sync.run({ confirm });
    } catch (e) {
      status = await sync.status();
      printStatus(status);
      if (isMfaError(e)) throw e;
      throw new MfaError(describeError(e), ErrorCode.DirectorySyncAborted, { cause: e });
    }
    printStatus(status);
    return exitCodeOf(status);
  } finally {
    await directory.close();
    await store.close();
  }
}

export const directorySyncCommand: Command = {
  name: 'directory sync',
  usage: 'directory sync --config FILE [--confirm]',
  summary: 'Sync the MFA group’s members and numbers into the user list now (through the service if it runs)',
  async run(args) {
    const { flags } = parseFlags(args, ['confirm']);
    const file = flags.get('config') ?? process.env.MFABOX_CONFIG;
    if (typeof file !== 'string')
      throw usageError(
        'directory sync: --config FILE (or MFABOX_CONFIG) is required: the config mfabox runs with',
      );
    const config = await loadConfigFile(file);
    const confirm = flags.get('confirm') === true;
    let store: Store;
    try {
      store = await openStore(config.dataDir);
    } catch (e) {
      // The running service holds the store: ask it, over loopback, to run the sync.
      const why = storeReason(config.dataDir, e);
      const target = { host: loopbackTarget(config.web.address), port: config.web.port };
      const r = await callSyncApi(target, { run: true, confirm });
      if (r.ok) {
        console.log(`(run by the mfabox service at ${targetUrl(target)})`);
        printStatus(r.status);
        if (r.status.state === 'failed')
          throw new MfaError(r.status.error ?? 'the sync failed', ErrorCode.DirectorySyncAborted);
        return exitCodeOf(r.status);
      }
      throw new MfaError(
        'directory sync could not run, neither here nor through the service:\n' +
          `  - here: ${why.text}\n` +
          `  - through the service: ${r.reason}\n` +
          (why.locked
            ? '  → something runs with this store but its local API did not answer: check that web.address and web.port ' +
              'in this config are the ones the service runs with (systemctl status mfabox shows its config file)'
            : '  → if mfabox is stopped: fix the store problem above (run this as the mfabox user: sudo -u mfabox …); ' +
              'if it runs: check web.address and web.port in this config'),
        ErrorCode.ServiceUnreachable,
        { cause: e },
      );
    }
    return syncHere(config, store, confirm);
  },
};
