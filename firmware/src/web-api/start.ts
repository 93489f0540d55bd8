/**
 * Starts the web page for the appliance: the admin accounts (first password printed once), the
 * TLS certificate (self-signed at first start), the app and its listeners.
 */
import type { Server as TlsServer } from 'node:tls';
import type { Config } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { AdminStore, adminsFile } from './admins.ts';
import { buildApp, type WebDeps } from './app.ts';
import type { InstalledCertificate } from './ops.ts';
import { listenWeb, type WebListening } from './listen.ts';
import { isLoopbackAddress } from './loopback.ts';
import { hostName } from './security.ts';
import { boxNames, describeCert, loadOrCreateTls, saveTls, tlsPaths, type CertInfo } from './tls.ts';

export interface WebStartOptions {
  /** The demo: admin/demo-admin, no forced change. */
  demoAdmin?: boolean;
  /** Prints the first admin password (once, at first start). Default: console.log. */
  onFirstAdminPassword?: (username: string, password: string) => void;
}

export interface RunningWeb extends WebListening {
  url: string;
  /** A plain-HTTP URL on 127.0.0.1 for the local API (what `mfabox` and tests on the box use). */
  localUrl: string | undefined;
  certificate(): CertInfo | undefined;
}

const log = logger('web');

export async function startWeb(
  config: () => Config,
  deps: Omit<WebDeps, 'admins' | 'security' | 'https'>,
  opts: WebStartOptions = {},
): Promise<RunningWeb> {
  const cfg = config();
  const admins = new AdminStore(adminsFile(cfg.dataDir));
  const first = await admins.ensureFirst({ demo: opts.demoAdmin === true });
  if (first && !opts.demoAdmin) {
    const print =
      opts.onFirstAdminPassword ??
      ((u: string, p: string) =>
        console.log(
          `\nFirst start: web admin "${u}", password ${p}\n(shown once; you will be asked to change it at the first login)\n`,
        ));
    print(first.username, first.password);
    log.warn(
      { admin: first.username },
      'first web admin created; its password was printed once on the console',
    );
  }

  const paths = tlsPaths(cfg.dataDir, cfg.web);
  let cert: string | undefined;
  let https: { cert: string; key: string } | undefined;
  if (cfg.web.tls) {
    const m = await loadOrCreateTls(paths);
    if (m.created)
      log.warn(
        { certFile: paths.certFile },
        'made a self-signed web certificate; upload your own on the System page',
      );
    https = { cert: m.cert, key: m.key };
    cert = m.cert;
  } else if (!isLoopbackAddress(cfg.web.address) && cfg.web.address !== 'localhost') {
    log.warn(
      { address: cfg.web.address },
      'the web page is served over plain HTTP (web.tls is false): passwords cross the LAN in clear',
    );
  }

  const security = (): ReturnType<WebDeps['security']> => {
    const c = config();
    return {
      hosts: [...c.web.hosts, c.web.address],
      adminNetworks: c.web.adminNetworks,
      sessionIdleMinutes: c.web.sessionIdleMinutes,
      monitorToken: c.web.monitorToken,
    };
  };
  const base = deps.ops;
  let key = https?.key;
  const install = async (m: { cert: string; key: string }): Promise<InstalledCertificate> => {
    const before = cert !== undefined && key !== undefined ? { cert, key } : undefined;
    const info = await saveTls(paths, m);
    if (!https) return { info, restartNeeded: true };
    // New connections get the new certificate; open ones keep theirs.
    (app.server as unknown as TlsServer).setSecureContext({ cert: m.cert, key: m.key });
    cert = m.cert;
    key = m.key;
    return {
      info,
      restartNeeded: false,
      ...(before ? { undo: async () => void (await install(before)) } : {}),
    };
  };
  const ops = base
    ? {
        ...base,
        system: async () => ({
          ...(await base.system()),
          ...(cert ? { certificate: describeCert(cert) } : {}),
        }),
        installCertificate: install,
      }
    : undefined;
  const app = await buildApp({
    ...deps,
    ...(ops ? { ops } : {}),
    admins,
    security,
    ...(https ? { https } : {}),
  });

  const allowed = (name: string): boolean => {
    const b = boxNames();
    return [...b.names, ...b.addresses, ...security().hosts].some((h) => hostName(h) === name);
  };
  let listening: WebListening;
  try {
    listening = await listenWeb(app, {
      host: cfg.web.address,
      port: cfg.web.port,
      tls: cfg.web.tls,
      redirectPort: cfg.web.redirectPort,
      localPort: cfg.web.localPort,
      allowedHost: allowed,
    });
  } catch (e) {
    await app.close();
    throw new MfaError(
      `the web page cannot listen on ${cfg.web.address}:${cfg.web.port}: ${describeError(e)}`,
      ErrorCode.WebBindFailed,
      { cause: e, field: 'web.port' },
    );
  }
  const a = listening.address;
  const shown = cfg.web.address.includes(':') ? `[${cfg.web.address}]` : cfg.web.address;
  const url = `${cfg.web.tls ? 'https' : 'http'}://${shown}:${a.port}`;
  const lo = listening.loopback;
  const localUrl = lo
    ? `http://127.0.0.1:${lo.port}`
    : !cfg.web.tls &&
        (isLoopbackAddress(cfg.web.address) || cfg.web.address === '0.0.0.0' || cfg.web.address === '::')
      ? `http://127.0.0.1:${a.port}`
      : undefined;
  return { ...listening, url, localUrl, certificate: () => (cert ? describeCert(cert) : undefined) };
}
