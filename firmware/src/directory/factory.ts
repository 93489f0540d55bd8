/** Builds the configured directory and its sync; main.ts and the CLI share this. */
import type { Config, DirectoryConfig } from '../config/schema.ts';
import type { Store } from '../store/store.ts';
import { DemoDirectory } from './demo.ts';
import type { Directory } from './directory.ts';
import { createLdapDirectory, type LdapDirectoryDeps } from './ldap.ts';
import { SwappableDirectory } from './swappable.ts';
import { DirectorySync } from './sync.ts';
import { UnconfiguredDirectory } from './unconfigured.ts';

/** The directory for a config; an LDAP one is started (warm connection, probes) unless `start` is false. */
export async function createDirectory(
  cfg: DirectoryConfig,
  opts: { start?: boolean; deps?: LdapDirectoryDeps } = {},
): Promise<Directory> {
  if (cfg.kind === 'none') return new UnconfiguredDirectory();
  if (cfg.kind === 'demo') return new DemoDirectory();
  const d = await createLdapDirectory(cfg, opts.deps);
  if (opts.start !== false) d.start();
  return d;
}

/**
 * The directory for a config, behind a wrapper whose `reconfigure(cfg)` replaces it in place (the
 * web page's live apply) without dropping a login in flight.
 */
export async function createReconfigurableDirectory(cfg: DirectoryConfig): Promise<SwappableDirectory> {
  return new SwappableDirectory(await createDirectory(cfg), (next) => createDirectory(next));
}

/** The sync for a config and directory; call `startSchedule(syncIntervalMinutes)` to run it on a timer. */
export function createSync(config: Config, directory: Directory, store: Store): DirectorySync {
  return new DirectorySync({
    directory,
    store,
    group: config.directory.group,
    defaultCountry: config.defaultCountry,
    maxRemovalPercent: config.directory.maxRemovalPercent,
    acceptPossibleNumbers: config.directory.acceptPossibleNumbers,
  });
}
