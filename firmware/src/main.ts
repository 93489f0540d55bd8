/**
 * The composition root: the only place that builds real IO (serial, UDP, LDAP, LevelDB, GPIO).
 * Everything below it receives its dependencies.
 */
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.ts';
import { DemoDirectory } from './directory/demo.ts';
import type { Directory } from './directory/directory.ts';
import { takeSnapshot, type HealthSnapshot } from './health/health.ts';
import { logger } from './log.ts';
import { openStore } from './store/store.ts';
import { buildApp } from './web-api/app.ts';

export interface ApplianceOptions {
  /** Demo and tests: run the modem simulator behind a real pty and use it as the only modem. */
  simulator?: { profile: string; smsDelayMs: number };
  /** Called for every SMS the simulated handset receives (demo prints it). */
  onHandsetSms?: (to: string, text: string) => void;
}

export interface Appliance {
  /** One line per service: where it listens. */
  describe(): string[];
  radiusPort: number;
  accountingPort: number | undefined;
  webUrl: string;
  health(): HealthSnapshot;
  stop(): Promise<void>;
}

const log = logger('main');

function buildDirectory(config: Config): Directory {
  if (config.directory.kind === 'demo') return new DemoDirectory();
  throw new Error('ldap directory not wired yet');
}

export async function startAppliance(config: Config, _opts: ApplianceOptions = {}): Promise<Appliance> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (e) {
        log.warn({ err: e }, 'error while stopping');
      }
    }
  };
  try {
    const store = await openStore(config.dataDir);
    stops.push(() => store.close());
    const directory = buildDirectory(config);
    stops.push(() => directory.close());

    const health = (): HealthSnapshot =>
      takeSnapshot({
        modems: () => [],
        directory: () => directory.health(),
        storeWritable: () => store.writable,
        radius: () => ({ listening: [], clientsWithoutMessageAuthenticator: [], counters: {} }),
        outbox: () => undefined,
      });

    const web = await buildApp({ health });
    await web.listen({ host: config.web.address, port: config.web.port });
    stops.push(() => web.close());
    const webAddr = web.server.address() as AddressInfo;
    const webUrl = `http://${config.web.address}:${webAddr.port}`;

    return {
      describe: () => [`Web         ${webUrl}`, `Data        ${config.dataDir}`],
      radiusPort: 0,
      accountingPort: undefined,
      webUrl,
      health,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
