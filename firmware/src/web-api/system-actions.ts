/**
 * The System page's box-wide actions: backup, restore, reboot and factory reset, on the real
 * files (the config file, `<dataDir>/device.key`, `<dataDir>/admins.json`, the web certificate,
 * `<dataDir>/directory-ca.pem`).
 *
 * Factory reset is two-phase because the store is open while the service runs: the request puts
 * the config file back to factory settings (its history, which holds old secrets, is deleted),
 * removes the admin accounts, leaves a marker in the data directory and reboots; the next start
 * sees the marker and empties the data directory (store, certificate) before
 * opening anything, so a power cut in between still ends in a reset box.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigFile, JsonObject } from '../config/config-file.ts';
import { writeFileAtomic } from '../config/atomic-write.ts';
import { checkConfig } from '../config/load.ts';
import type { LiveConfig } from '../config/live-config.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';
import { adminsFileSchema } from './admins.ts';
import { FACTORY_RESET_MARKER } from './factory-reset.ts';
import type { BackupContents } from './backup.ts';
import { DIRECTORY_CA_FILE, readCaBundle } from './routes/directory-ca.ts';
import { checkTls, type TlsPaths } from './tls.ts';

// The marker and the wipe at the next start live in factory-reset.ts, which the start imports
// without the web page's modules.
export { FACTORY_RESET_MARKER, finishFactoryReset } from './factory-reset.ts';

export interface SystemActions {
  /** Everything a backup holds, secrets included: the caller seals it before it leaves the box. */
  backup(): Promise<BackupContents>;
  /** Checks everything first, then applies the config live and writes the rest. */
  restore(c: BackupContents, who: string): Promise<{ revision: number; restartNeeded: string[] }>;
  reboot(): Promise<void>;
  /** Resets the files and reboots (the store is emptied at the next start). */
  factoryReset(): Promise<void>;
}

export interface SystemActionsDeps {
  configFile: ConfigFile;
  live: LiveConfig;
  dataDir: string;
  deviceKeyFile: string;
  adminsFile: string;
  /** The web certificate and key, when they are the box's own files (not named in the config). */
  tls?: TlsPaths;
  firmware(): Promise<string>;
  /**
   * Reboots the machine. Always injected, never imported here: the tests run as root in CI,
   * where a real `systemctl reboot` would reboot the machine running them; the demo prints.
   */
  reboot(): Promise<void>;
  /** What the config file holds after a factory reset (default: only the data directory kept). */
  factoryConfig?(current: JsonObject): JsonObject;
}

const log = logger('web:system');

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const bad = (message: string, field: string): MfaError =>
  new MfaError(message, ErrorCode.BackupInvalid, { field });

export function createSystemActions(d: SystemActionsDeps): SystemActions {
  return {
    async backup() {
      const key = await readFile(d.deviceKeyFile);
      const admins = await readOptional(d.adminsFile);
      const cert = d.tls ? await readOptional(d.tls.certFile) : undefined;
      const tlsKey = d.tls ? await readOptional(d.tls.keyFile) : undefined;
      const directoryCa = await readOptional(join(d.dataDir, DIRECTORY_CA_FILE));
      return {
        createdAt: new Date().toISOString(),
        firmware: await d.firmware(),
        config: d.live.stored().json,
        deviceKey: key.toString('base64'),
        ...(admins !== undefined ? { admins: JSON.parse(admins) as unknown } : {}),
        ...(cert !== undefined && tlsKey !== undefined ? { tls: { cert, key: tlsKey } } : {}),
        ...(directoryCa !== undefined ? { directoryCa } : {}),
      };
    },

    async restore(c, who) {
      // Everything is checked before anything is written: a bad part refuses the whole file.
      const checked = checkConfig(c.config);
      if (!checked.ok)
        throw bad(
          `the backup's config does not validate: ${checked.issues
            .slice(0, 5)
            .map((i) => `${i.path || '(root)'}: ${i.message}`)
            .join('; ')}`,
          'config',
        );
      const admins = c.admins === undefined ? undefined : adminsFileSchema.safeParse(c.admins);
      if (admins && (!admins.success || admins.data.admins.length === 0))
        throw bad("the backup's admin accounts are damaged", 'admins');
      if (c.tls) {
        try {
          checkTls(c.tls);
        } catch (e) {
          throw bad(`the backup's web certificate is unusable: ${(e as Error).message}`, 'tls');
        }
      }
      const key = Buffer.from(c.deviceKey, 'base64');
      if (key.length !== 32) throw bad("the backup's device key is not 32 bytes", 'deviceKey');
      const ca = c.directoryCa === undefined ? undefined : readCaBundle(c.directoryCa);
      if (ca && !ca.ok) throw bad(`the backup's directory CA is unusable: ${ca.message}`, 'directoryCa');

      // The CA goes first: the restored config may name it, and applying that config connects
      // to the DCs at once. Put back as it was if the config is refused.
      const caPath = join(d.dataDir, DIRECTORY_CA_FILE);
      const oldCa = ca ? await readOptional(caPath) : undefined;
      if (ca?.ok) await writeFileAtomic(caPath, ca.file, 0o600);
      let r: Awaited<ReturnType<LiveConfig['replace']>>;
      try {
        r = await d.live.replace(d.live.stored().revision, c.config, who);
      } catch (e) {
        if (ca?.ok)
          await (oldCa === undefined ? rm(caPath, { force: true }) : writeFileAtomic(caPath, oldCa, 0o600));
        throw e;
      }
      const restartNeeded = [...r.restartNeeded];
      if (admins?.success)
        await writeFileAtomic(d.adminsFile, `${JSON.stringify(admins.data, null, 2)}\n`, 0o600);
      const oldKey = await readFile(d.deviceKeyFile).catch(() => undefined);
      if (!oldKey?.equals(key)) {
        await writeFileAtomic(d.deviceKeyFile, key, 0o600);
        restartNeeded.push('device key');
      }
      if (c.tls && d.tls) {
        const old = await readOptional(d.tls.certFile);
        if (old !== c.tls.cert) {
          await writeFileAtomic(d.tls.keyFile, c.tls.key, 0o600);
          await writeFileAtomic(d.tls.certFile, c.tls.cert, 0o644);
          restartNeeded.push('web certificate');
        }
      }
      log.warn({ admin: who, revision: r.revision, restartNeeded }, 'backup restored');
      return { revision: r.revision, restartNeeded };
    },

    reboot: () => d.reboot(),

    async factoryReset() {
      await writeFile(join(d.dataDir, FACTORY_RESET_MARKER), `${new Date().toISOString()}\n`, {
        mode: 0o600,
      });
      const file = d.configFile;
      const current = file.current();
      const factory =
        d.factoryConfig?.(current) ??
        (typeof current.dataDir === 'string' ? { dataDir: current.dataDir } : {});
      // The history holds every old secret: a reset box keeps none of them.
      await file.replace(file.revision(), factory);
      await rm(file.historyDir, { recursive: true, force: true });
      await rm(d.adminsFile, { force: true });
      log.warn('factory reset: config and admin accounts reset; rebooting to empty the data directory');
      await d.reboot();
    },
  };
}
