/**
 * The directory diagnostics behind `mfabox directory test`: each DC walked step by step (DNS, TCP,
 * TLS, bind, search), saying in plain words which step failed and what usually fixes it, and the
 * DCs that DNS SRV names, under the same rules as the running box.
 */
import { lookup, resolveSrv as dnsResolveSrv } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import type { SrvRecord } from 'node:dns';
import net from 'node:net';
import type { LdapDirectoryConfig } from '../config/schema.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { LdapConnection, brief, stepOf, type Step } from './connection.ts';
import {
  dialectSettings,
  entryToUser,
  groupLookupFilter,
  isDn,
  parseLogin,
  userAttributes,
  userSearchFilter,
} from './dialects.ts';
import { srvTargetInside, srvToUrls } from './failover.ts';
import { createLdapDirectory } from './ldap.ts';

/** What usually fixes a failed step, in the words an admin acts on. */
export const HINTS: Record<Step | 'silent', string> = {
  DNS: 'the DC name does not resolve: check the URL and the box’s DNS server',
  TCP: 'nothing answers on that port: check the URL, the port (636 ldaps, 389 StartTLS) and firewalls',
  TLS: 'the certificate was refused: caFile must hold the CA that signed the DC certificate, the URL host (or tlsServerName) must match the certificate, and the box clock must be right',
  bind: 'the service account was refused: check bindDn (DN or UPN) and bindPassword, and that the account is enabled',
  search:
    'connected and bound, but the search failed: check baseDn, group and the service account’s read rights',
  timeout: 'the DC accepted the connection but did not answer in time',
  silent:
    'the DC accepted the connection and then went silent: a wrong port (636 is ldaps://, 389 is ldap:// + StartTLS), ldap:// where the port speaks ldaps:// (or the reverse), or a firewall that drops the traffic; not a certificate problem',
  config: 'the configuration refuses this (plain LDAP without StartTLS): set startTls or use ldaps://',
};

export type Out = (line: string) => void;

export interface DcTestOptions {
  /** The CA bundle's PEM text, when caFile is set. */
  ca?: string;
  /** Also look this login up and show its numbers and groups. */
  user?: string;
  /** ms per step; default the larger of timeoutMs and 5 s (a test may wait for a slow DC). */
  budgetMs?: number;
  out: Out;
}

/**
 * Walks one DC step by step (DNS, TCP, TLS or StartTLS, bind, search) and prints each step's
 * outcome; a failed step is printed with its hint. True when every step passed.
 */
export async function testDomainController(
  cfg: LdapDirectoryConfig,
  url: string,
  o: DcTestOptions,
): Promise<boolean> {
  const { ca, user, out } = o;
  out(`${url}`);
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'ldaps:' ? 636 : 389));
  const ok = (step: string, what: string) => out(`  ok      ${step.padEnd(7)} ${what}`);
  const fail = (step: Step, e: unknown, hint: string = HINTS[step]): false => {
    out(`  FAILED  ${step.padEnd(7)} ${brief(e)}`);
    out(`          → ${hint}`);
    return false;
  };
  const budget = o.budgetMs ?? Math.max(cfg.timeoutMs, 5000);
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
    // TCP was accepted just before: a timeout here is silence, not a refused certificate.
    if (step === 'timeout') return fail('TLS', e, HINTS.silent);
    return fail(step, e);
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
        if (!login) throw new MfaError(`"${user}" is not a login name`, ErrorCode.CliUsage);
        const filter = userSearchFilter(s, login);
        if (filter === undefined)
          throw new MfaError(
            `"${user}" names a domain that is not the directory's (add it to directory.loginDomains if it is)`,
            ErrorCode.CliUsage,
          );
        const r = await conn.within('search', budget, (c) =>
          c.search(cfg.baseDn, {
            scope: 'sub',
            filter,
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

/**
 * The DCs DNS SRV names for srvDomain, as the box would use them: only targets inside srvDomain
 * (the others are printed as refused). Prints one line; returns the URLs.
 */
export async function discoverForTest(
  cfg: LdapDirectoryConfig,
  out: Out,
  resolveSrv: (name: string) => Promise<SrvRecord[]> = dnsResolveSrv,
): Promise<string[]> {
  if (cfg.srvDomain === undefined) return [];
  const domain = cfg.srvDomain;
  const name = `_ldap._tcp.dc._msdcs.${domain}`;
  try {
    const records = await resolveSrv(name);
    const found = srvToUrls(
      records.filter((r) => srvTargetInside(r.name, domain)),
      cfg.srvUseLdaps,
    );
    out(`ok      DNS SRV ${name} → ${found.join(', ') || '(none)'}`);
    const outside = records.filter((r) => !srvTargetInside(r.name, domain)).map((r) => r.name);
    if (outside.length > 0)
      out(`WARN    DNS SRV refused, outside ${domain}: ${outside.join(', ')} (never sent a password)`);
    return found;
  } catch (e) {
    out(`FAILED  DNS SRV ${name}: ${brief(e)}\n        → ${HINTS.DNS}`);
    return [];
  }
}

/**
 * The whole `mfabox directory test` (and the web page's Test connection): the CA bundle checked as
 * the appliance checks it, every configured and SRV-found DC walked, then a summary line.
 */
export async function testDirectory(
  cfg: LdapDirectoryConfig,
  o: { user?: string; out: Out },
): Promise<{ passed: number; total: number }> {
  // The same checks of the CA bundle the appliance makes (readable, PEM).
  await (await createLdapDirectory(cfg)).close();
  const ca = cfg.caFile === undefined ? undefined : await readFile(cfg.caFile, 'utf8');
  const urls = [...cfg.urls];
  for (const x of await discoverForTest(cfg, o.out)) if (!urls.includes(x)) urls.push(x);
  let passed = 0;
  for (const url of urls)
    if (
      await testDomainController(cfg, url, {
        ...(ca === undefined ? {} : { ca }),
        ...(o.user === undefined ? {} : { user: o.user }),
        out: o.out,
      })
    )
      passed++;
  o.out(`\n${passed} of ${urls.length} domain controller(s) passed.`);
  return { passed, total: urls.length };
}
