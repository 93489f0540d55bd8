/**
 * The composition root: the only place that builds real IO (serial, UDP, LDAP, LevelDB, GPIO).
 * Everything below it receives its dependencies.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { AuditLog } from './audit/audit-log.ts';
import { createRadiusAudit } from './audit/radius-hook.ts';
import { DeliveryTracker, smsRecordOf, type StatusReport } from './audit/sms-hook.ts';
import { SyslogForwarder } from './audit/syslog.ts';
import { instrumentDirectory } from './metrics/directory.ts';
import { DeferredMetrics } from './metrics/deferred.ts';
import type { AuditFilter } from './audit/query.ts';
import { configChanges, type AuditRecord } from './audit/records.ts';
import { createAuthEngine } from './auth/engine.ts';
import { notConfiguredHandler, setupGaps } from './auth/setup-mode.ts';
import { SmtpEmailChannel } from './auth/email-channel.ts';
import { openGeoip } from './auth/geoip.ts';
import { cryptoRandom, systemClock } from './clock.ts';
import type { Config, ModemConfig } from './config/schema.ts';
import { openOutbox } from './dispatch/outbox.ts';
import { createReconfigurableDirectory, createSync } from './directory/factory.ts';
import { syncAuditRecord } from './directory/sync-audit.ts';
import type { SyncStatus } from './directory/sync.ts';
import type { ConfigFile, JsonObject } from './config/config-file.ts';
import type { ApplyResult } from './config/live-config.ts';
import { firmwareVersion } from './version.ts';
import type { WebOps } from './web-api/ops.ts';
import { finishFactoryReset } from './web-api/factory-reset.ts';
import { systemReboot } from './web-api/reboot.ts';
import { tlsPaths } from './web-api/tls.ts';
import { ErrorCode, MfaError, describeError } from './errors.ts';
import { DeliveryWatch } from './health/delivery.ts';
import { monitorVerdict, takeSnapshot, type HealthSnapshot } from './health/health.ts';
import { logger } from './log.ts';
import { ModemPool } from './modem/pool.ts';
import type { ModemSimulator } from './modem/simulator/index.ts';
import { serialTransport, type TransportFactory } from './modem/transport.ts';
import { createRadiusServer, radiusServerOptions } from './radius/server.ts';
import type { RadiusHandler } from './auth/types.ts';
import { openStore } from './store/store.ts';
import { openKeyFor } from './store/open-key.ts';
import { USERS_TABLE, userKey, type UserRecord } from './directory/users.ts';

export interface ApplianceOptions {
  /**
   * Demo and tests: run the modem simulator as the only modem, linked in-process through
   * serialport's stream (the driver's real serial code runs; no pty tool is needed).
   */
  simulator?: {
    profile: string;
    smsDelayMs: number;
    /** A SIM PIN the simulated SIM asks for. */ pin?: string;
  };
  /** Called for every SMS the simulated handset receives (the demo prints it). */
  onHandsetSms?: (to: string, text: string) => void;
  /**
   * What the reset button (held 10 s) does: resets the admin password and returns the new one,
   * which is printed. Default: resetAdminPassword (web-api/admins.ts) on the data directory.
   */
  resetAdminPassword?: () => Promise<{ username: string; password: string }>;
  /** Tests and the demo: no LEDs (MFABOX_LEDS=none does the same). */
  noLeds?: boolean;
  /** [0...120000] ms: wait this long for a modem to be ready before returning (the demo does). Default 0. */
  waitForModemMs?: number;
  /** `mfabox demo` (and tests): the demo directory may be used. Production `start` never sets it. */
  demo?: boolean;
  /** The config file the web page edits (GET/PATCH /api/config); without it the config is read-only. */
  configFile?: ConfigFile;
  /** The running config from the file's (the demo overrides ports and the data directory). Default: as is. */
  effective?: (fromFile: Config) => Config;
  /** The demo's web admin: admin/demo-admin, no forced change. */
  demoAdmin?: boolean;
  /** What Reboot on the System page runs. Default `systemctl reboot`; the demo and tests inject theirs. */
  reboot?: () => Promise<void>;
  /** Tests: the apply-with-rollback window of the web page (default 90 s). */
  rollbackMs?: number;
  /** What the config file holds after a factory reset (the demo: its own first config). */
  factoryConfig?: (current: JsonObject) => JsonObject;
  /**
   * Called once RADIUS answers (the box's job), before the web page starts: `mfabox start` says
   * READY=1 to systemd here. `lines` are the RADIUS lines of describe().
   */
  onReady?: (ready: { lines: string[]; health: () => HealthSnapshot }) => Promise<void> | void;
}

export interface Appliance {
  /** One line per service: where it listens. */
  describe(): string[];
  radiusPort: number;
  accountingPort: number | undefined;
  webUrl: string;
  /** Plain HTTP on 127.0.0.1 (the local API; the whole page when web.tls is false). */
  localWebUrl: string | undefined;
  simulator: ModemSimulator | undefined;
  health(): HealthSnapshot;
  stop(): Promise<void>;
}

const log = logger('main');

const fmt = (a: AddressInfo): string =>
  a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;

export async function startAppliance(config: Config, opts: ApplianceOptions = {}): Promise<Appliance> {
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order of start: stop taking requests first, close the store last.
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (e) {
        log.warn({ err: describeError(e) }, 'error while stopping');
      }
    }
  };
  try {
    // A factory reset begun before the last reboot empties the data directory before anything opens it.
    await finishFactoryReset(config.dataDir);
    const store = await openStore(config.dataDir);
    stops.push(() => store.close());
    // Each use derives its own subkey from these bytes (store/device-key.ts).
    const deviceKeyFile = await openKeyFor(config);
    const deviceKey = deviceKeyFile.raw();
    const audit = new AuditLog(store, systemClock, {
      maxAgeDays: config.audit.maxAgeDays,
      maxRecords: config.audit.maxRecords,
      maxBuffered: config.audit.maxBuffered,
    });
    audit.start();
    stops.push(() => audit.stop());
    // Every record also goes to the SIEM; send() queues and returns, whatever the collector does.
    const syslog = new SyslogForwarder(config.syslog);
    audit.subscribe((r) => syslog.send(r));
    stops.push(() => syslog.close());
    // Metrics read health lazily (it is built below, once the services exist).
    let health: () => HealthSnapshot = () => {
      throw new Error('health read before start');
    };
    // Counted from here; prom-client itself is loaded after RADIUS is ready (metrics/deferred.ts).
    const metrics = new DeferredMetrics();
    const users = store.table<UserRecord>(USERS_TABLE);
    const radiusAudit = createRadiusAudit({
      sink: (r) => audit.record(r),
      observe: {
        decision: (d, latencyMs) => metrics.decision(d, latencyMs),
        drop: (d) => metrics.drop(d),
      },
      lookupDn: (account) => {
        try {
          return users.getSync(userKey(account))?.dn;
        } catch {
          return undefined;
        }
      },
    });
    stops.push(() => radiusAudit.flush());

    let simulator: ModemSimulator | undefined;
    // The modems the pool runs: the config's, plus the demo's simulator (not in the file).
    let modemsOf = (c: Config): ModemConfig[] => c.modems;
    let transportFactory: TransportFactory = serialTransport;
    if (opts.simulator) {
      const { startSimulator } = await import('./modem/simulator/index.ts');
      simulator = await startSimulator({
        profile: opts.simulator.profile,
        smsDelayMs: opts.simulator.smsDelayMs,
        wire: 'in-process',
        ...(opts.simulator.pin === undefined ? {} : { pin: opts.simulator.pin }),
      });
      const sim = simulator;
      stops.push(() => sim.stop());
      const onSms = opts.onHandsetSms;
      if (onSms) sim.inbox.on('sms', (m) => onSms(m.to, m.text));
      const pin = opts.simulator.pin;
      // The config schema (zod) loads here, in the demo only: a box's start parses no schema (config/start-config.ts).
      const { modemSchema } = await import('./config/schema.ts');
      const sim0 = modemSchema.parse({
        name: 'sim0',
        path: sim.path,
        profile: 'auto',
        ...(pin ? { pin } : {}),
      });
      modemsOf = (c) => [sim0, ...c.modems.filter((m) => m.name !== sim0.name)];
      transportFactory = simulatorOrSerial(sim);
    }
    let modems = modemsOf(config);

    const pool = new ModemPool(modems, store, systemClock, {
      transportFactory,
      pinKey: deviceKey,
    });
    pool.start();
    stops.push(() => pool.stop());

    const deliveryReports = new DeliveryTracker();
    const outbox = await openOutbox({
      store,
      sender: pool,
      deviceKey,
      dataDir: config.dataDir,
      options: { statusReport: config.passcode.statusReport },
      onEvent: (e) => {
        const t = Date.now();
        deliveryReports.noteSent(e, t);
        metrics.smsEvent(e);
        audit.record(smsRecordOf(e, t));
      },
    });
    pool.on('status-report', (r: StatusReport) => {
      const rec = deliveryReports.recordFor(r, Date.now());
      if (rec?.kind !== 'sms') return;
      metrics.smsEvent({ status: r.delivered ? 'delivered' : 'not-delivered', challengeId: rec.challengeId });
      audit.record(rec);
      const at = rec.at ?? Date.now();
      outbox
        .noteDelivery(rec.challengeId, {
          delivered: r.delivered,
          at,
          ...(r.outcome ? { outcome: r.outcome } : {}),
        })
        .catch((e: unknown) => log.warn({ err: describeError(e) }, 'could not note a delivery report'));
    });
    stops.push(() => outbox.close());

    // Setup mode (auth/setup-mode.ts): recomputed by a live reconfigure, read on every request.
    const gapsOf = (c: Config): string[] => {
      const g = setupGaps(c, { demo: opts.demo === true, modems: modems.length });
      if (g.length > 0)
        log.warn({ missing: g }, 'setup mode: every RADIUS login is refused until configured');
      return g;
    };
    let gaps = gapsOf(config);
    // The demo directory's users have published passwords: outside `mfabox demo` it is no directory.
    const directoryOf = async (c: Config): Promise<Config['directory']> =>
      c.directory.kind === 'demo' && opts.demo !== true
        ? (await import('./config/schema.ts')).directorySchema.parse({ kind: 'none' })
        : c.directory;
    const directoryConfig = await directoryOf(config);
    // The running config: the engine reads it per request, so a change from the web page applies live.
    let current = config;
    // directory.reconfigure(cfg) swaps in a new config without dropping a login in flight.
    const directory = await createReconfigurableDirectory(directoryConfig);
    stops.push(() => directory.close());
    // A scheduled sync is audited like one an admin starts, with the schedule as its actor.
    const onScheduledRun = (r: SyncStatus): void => {
      audit.record(syncAuditRecord(r, { confirm: false, actor: 'schedule' }));
    };
    let sync = createSync(config, directory, store);
    sync.onScheduledRun = onScheduledRun;
    if (config.directory.syncIntervalMinutes > 0) {
      // The demo's directory is in memory: its users are listed from the first page view, not
      // 10 s later (a production box waits, so a slow DC does not hold up its start).
      sync.startSchedule(config.directory.syncIntervalMinutes, opts.demo === true ? 0 : undefined);
    }
    // A sync in progress finishes its chunk before the store closes.
    stops.push(async () => {
      sync.stopSchedule();
      await sync.idle();
    });

    const email = new SmtpEmailChannel(() => current.methods.email);
    // Registered before the engine's stop, so it runs after it: emails in flight get their chance.
    stops.push(() => email.close());
    const engine = createAuthEngine({
      directory: instrumentDirectory(directory, (server, op, ms, error) =>
        metrics.directoryCall(server, op, ms, error),
      ),
      outbox,
      store,
      clock: systemClock,
      random: cryptoRandom,
      config: () => ({
        passcode: current.passcode,
        policy: current.policy,
        defaultCountry: current.defaultCountry,
        acceptPossibleNumbers: current.directory.acceptPossibleNumbers,
        deviceSecret: deviceKey,
        lockout: current.lockout,
        limits: current.limits,
        methods: current.methods,
        modemsPerMinute: modems.reduce((n, m) => n + m.maxPerMinute, 0),
      }),
      geoip: await openGeoip(config.policy.geoipFile),
      // Follows the live config: off until methods.email.enabled, a changed relay applies at once.
      email,
      onDecision: (d, req) => radiusAudit.onDecision(d, req),
    });
    engine.guard.onGlobalCap = ({ cap, retryInMs }) =>
      audit.record({
        kind: 'admin',
        action: 'sms-global-cap',
        actor: 'system',
        outcome: 'failed',
        detail: `global SMS cap of ${cap} per minute reached: new passcode SMS refused for about ${Math.ceil(retryInMs / 1000)} s (limits.smsPerMinute)`,
      });
    engine.start();
    stops.push(() => engine.stop());

    // Requests still in the engine when the service stops finish before the store closes:
    // otherwise a challenge could be committed half-way, or its write hang on a closed store.
    const inFlight = new Set<Promise<unknown>>();
    const notConfigured = notConfiguredHandler();
    const audited = radiusAudit.wrap((req, client) =>
      gaps.length > 0 ? notConfigured(req, client) : engine.handle(req, client),
    );
    const handler: RadiusHandler = (req, client) => {
      const p = audited(req, client);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      return p;
    };
    stops.push(async () => {
      if (inFlight.size === 0) return;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 5000))]);
    });
    const radius = createRadiusServer({
      ...radiusServerOptions(config.radius),
      handler,
      store,
      health: () => monitorVerdict(health()),
      onDrop: (d) => radiusAudit.onDrop(d),
    });
    const delivery = new DeliveryWatch();
    health = () =>
      takeSnapshot({
        delivery: () => delivery.observe(outbox.stats()).problem,
        modems: () => pool.health(),
        directory: () => directory.health(),
        storeWritable: () => store.writable,
        radius: () => radius.status(),
        outbox: () => outbox.stats(),
        setupGaps: () => gaps,
        audit: () => ({ ...audit.stats(), syslog: syslog.stats() }),
      });

    if (opts.waitForModemMs) await pool.whenReady(opts.waitForModemMs);

    const bound = await radius.start();
    stops.push(() => radius.stop());
    const radiusLines = [
      ...bound.auth.map((a) => `RADIUS      udp ${fmt(a)}`),
      ...bound.acct.map((a) => `Accounting  udp ${fmt(a)}`),
    ];
    await opts.onReady?.({ lines: radiusLines, health });
    // What only the web page and the LEDs use (fastify, its plugins, every API route and its
    // schemas) is loaded now, so it does not delay RADIUS.
    const [
      { startWeb },
      { AuthAdmin },
      { LiveConfig },
      { listSerialPorts, searchUsers },
      { openLeds },
      { createLedController },
      { createSystemActions },
      { adminsFile, resetAdminPassword },
      promMetrics,
    ] = await Promise.all([
      import('./web-api/start.ts'),
      import('./auth/admin.ts'),
      import('./config/live-config.ts'),
      import('./web-api/ops.ts'),
      import('./leds/open.ts'),
      import('./leds/controller.ts'),
      import('./web-api/system-actions.ts'),
      import('./web-api/admins.ts'),
      metrics.load({ health: () => health(), audit: () => audit.stats(), syslog: () => syslog.stats() }),
    ]);

    const authAdmin = new AuthAdmin({
      store,
      guard: engine.guard,
      audit,
      clock: systemClock,
      config: () => current,
      directory,
    });
    /** Applies a validated config to the running services; the first step that can refuse goes first. */
    const apply = async (next: Config, prev: Config): Promise<ApplyResult> => {
      const restartNeeded: string[] = [];
      const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
      // The RADIUS client table first: it validates as a whole and changes nothing when it refuses.
      if (radius.reconfigure(next.radius).restartNeeded)
        restartNeeded.push('radius.listen', 'radius.accountingPort');
      const directoryChanged = !same(next.directory, prev.directory);
      if (directoryChanged) {
        try {
          // Builds and starts the new one first; logins in flight finish on the old one.
          await directory.reconfigure(await directoryOf(next));
        } catch (e) {
          radius.reconfigure(prev.radius);
          throw e;
        }
      }
      if (
        directoryChanged ||
        next.defaultCountry !== prev.defaultCountry ||
        next.directory.syncIntervalMinutes !== prev.directory.syncIntervalMinutes
      ) {
        sync.stopSchedule();
        sync = createSync(next, directory, store);
        sync.onScheduledRun = onScheduledRun;
        if (next.directory.syncIntervalMinutes > 0) sync.startSchedule(next.directory.syncIntervalMinutes);
      }
      const nextModems = modemsOf(next);
      if (!same(nextModems, modems)) {
        modems = nextModems;
        // In place: unchanged modems keep sending; a changed one drains its send past Ctrl-Z
        // first, which can take longer than an HTTP request should, so the answer does not wait.
        const done = pool.reconfigure(nextModems).catch((e: unknown) => {
          log.error({ err: describeError(e) }, 'modem reconfigure failed');
        });
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000).unref())]);
      }
      for (const k of ['address', 'port', 'tls', 'certFile', 'keyFile', 'redirectPort', 'localPort'] as const)
        if (!same(next.web[k], prev.web[k])) restartNeeded.push(`web.${k}`);
      if (next.dataDir !== prev.dataDir) restartNeeded.push('dataDir');
      if (!same(next.syslog, prev.syslog)) syslog.reconfigure(next.syslog);
      if (!same(next.audit, prev.audit)) restartNeeded.push('audit');
      if (next.policy.geoipFile !== prev.policy.geoipFile) restartNeeded.push('policy.geoipFile');
      current = next;
      gaps = gapsOf(next);
      return { restartNeeded };
    };
    const live = opts.configFile
      ? new LiveConfig(
          {
            file: opts.configFile,
            effective: opts.effective ?? ((c) => c),
            apply,
            audit: async (who, revision, before, after) => {
              const changes = configChanges(before, after);
              await audit.recordDurable({
                kind: 'admin',
                action: 'config-change',
                actor: who,
                outcome: 'ok',
                changes,
                detail: `revision ${revision}`,
              });
              log.info(
                { admin: who, revision, fields: changes.map((c) => c.field) },
                'configuration changed',
              );
            },
          },
          config,
        )
      : undefined;
    const recentAudit = async (limit: number, filter: AuditFilter = {}): Promise<AuditRecord[]> => {
      const out: AuditRecord[] = [];
      for await (const e of audit.query(filter, { order: 'desc', limit })) out.push(e.record);
      return out;
    };
    const ops: WebOps = {
      users: (q, limit) => searchUsers(store, recentAudit, q, limit),
      sendTestSms: async (to, text) => {
        const r = await pool.send(to, text, {
          remainingMs: 120_000,
          flash: current.passcode.flash,
        });
        return { modem: r.modem, parts: r.messageRefs.length };
      },
      serialPorts: () => listSerialPorts(),
      recentAudit,
      system: async () => ({
        version: await firmwareVersion(),
        node: process.version,
        time: new Date().toISOString(),
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        clockSynced: health().clock.synced,
        uptimeSeconds: Math.round(process.uptime()),
        tls: current.web.tls,
      }),
    };
    const web = await startWeb(
      () => current,
      {
        health,
        audit: (e) => audit.recordDurable({ kind: 'admin', ...e }),
        directorySync: {
          // A sync asked for through the API (the page, `mfabox directory sync` while the service runs) is an admin action.
          run: async (o) => {
            const r = await sync.run(o);
            await audit.recordDurable(syncAuditRecord(r, { confirm: o.confirm === true, actor: 'admin' }));
            return r;
          },
          status: () => sync.status(),
        },
        authAdmin,
        auditLog: audit,
        metrics: promMetrics,
        ...(live ? { config: live } : {}),
        ...(live && opts.configFile
          ? {
              system: createSystemActions({
                configFile: opts.configFile,
                live,
                dataDir: config.dataDir,
                // Where the key was read: deviceKeyFile, or dataDir while it could not be moved.
                deviceKeyFile: deviceKeyFile.path,
                adminsFile: adminsFile(config.dataDir),
                ...(config.web.certFile === undefined ? { tls: tlsPaths(config.dataDir, config.web) } : {}),
                firmware: firmwareVersion,
                reboot: opts.reboot ?? systemReboot,
                ...(opts.factoryConfig ? { factoryConfig: opts.factoryConfig } : {}),
              }),
            }
          : {}),
        ops,
        modemTest: {
          sendVia: async (name, to, text) => {
            const modem = pool.modems().find((m) => m.name === name);
            if (!modem) throw new MfaError(`no modem ${name}`, ErrorCode.ConfigInvalid, { field: 'modem' });
            const refs = await modem.send(
              to,
              text,
              { remainingMs: 120_000, flash: current.passcode.flash },
              { refs: [], beforeSubmitDone: false },
            );
            return { parts: refs.length };
          },
          defaultCountry: () => current.defaultCountry,
          probe: (name) => pool.probe(name),
        },
        ...(opts.rollbackMs !== undefined ? { rollbackMs: opts.rollbackMs } : {}),
      },
      { demoAdmin: opts.demoAdmin === true },
    );
    stops.push(() => web.close());
    const webUrl = web.url;

    // Status LEDs read the same health model; on a laptop or CI this is one log line.
    const leds = await openLeds(opts.noLeds ? { env: { MFABOX_LEDS: 'none' } } : {});
    if (!leds.driver.description.startsWith('none') || leds.button) {
      const reset =
        opts.resetAdminPassword ??
        (async () => {
          const r = await resetAdminPassword({ dataDir: config.dataDir });
          await audit.recordDurable({
            kind: 'admin',
            action: 'admin-password-reset',
            actor: 'button',
            user: r.username,
            outcome: 'ok',
          });
          return r;
        });
      const ledController = createLedController({
        driver: leds.driver,
        button: leds.button,
        health,
        clock: systemClock,
        onHold: async () => {
          if (!reset) throw new Error('no admin password store to reset');
          const { username, password } = await reset();
          // Printed for the admin at the box (console/journal), never logged through pino.
          console.log(`Reset button: the admin password of "${username}" is now: ${password}`);
        },
      });
      ledController.start();
      stops.push(() => ledController.stop());
    } else stops.push(() => leds.driver.close());

    const radiusPort = bound.auth[0]?.port ?? 0;
    const accountingPort = bound.acct[0]?.port;
    log.info({ radius: radius.status().listening, web: webUrl }, 'MFA Box started');
    return {
      describe: () => [
        ...radiusLines,
        `Web         ${webUrl}`,
        ...(web.localUrl && web.localUrl !== webUrl ? [`Local API   ${web.localUrl} (this box only)`] : []),
        ...(simulator
          ? [`Modem       simulator (${simulator.profile}) on ${simulator.path}`]
          : modems.map((m) => `Modem       ${m.name} on ${m.path}`)),
        `Directory   ${directory.health().server ?? config.directory.kind}`,
        `Data        ${config.dataDir}`,
      ],
      radiusPort,
      accountingPort,
      webUrl,
      localWebUrl: web.localUrl,
      simulator,
      health,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** The demo's simulator at its path; any other path is a real serial port (a modem added on the page). */
function simulatorOrSerial(sim: ModemSimulator): TransportFactory {
  const simFactory = sim.transportFactory ?? serialTransport;
  const f: TransportFactory = (o) => (o.path === sim.path ? simFactory(o) : serialTransport(o));
  f.exists = (p) => (p === sim.path ? (simFactory.exists?.(p) ?? true) : existsSync(p));
  return f;
}
