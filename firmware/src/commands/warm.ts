/** `mfabox warm`: the start caches before a first start (first boot, upgrade); see release/warm.ts. */
import { resolve } from 'node:path';
import { buildId } from '../build-id.ts';
import { ConfigFile } from '../config/config-file.ts';
import { startConfig } from '../config/start-config.ts';
import { configureLogging } from '../log.ts';
import { startAppliance } from '../main.ts';
import { WARM_AGAIN_ENV, codeCacheHandle, runAgain, warm } from '../release/warm.ts';
import { defineCommand, usageError } from './command.ts';

/** What `start` waits after it has started before it writes its cache (scripts/mfabox.mjs). */
const AFTER_START_MS = 1000;

export const warmCommand = defineCommand({
  name: 'warm',
  summary: 'Fill the start caches (code cache, validated config) in $CACHE_DIRECTORY before a first start',
  details:
    "Run as the service user with the unit's environment by scripts/warm-cache.mjs (first boot, mfabox upgrade). " +
    'A trial start on a temp data directory and loopback ephemeral ports, with no modem, directory, syslog or LEDs: ' +
    "never the live store or the service's ports. Does nothing when both caches are there.",
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      env: 'MFABOX_CONFIG',
      required: true,
      help: 'the config file the service starts with',
    },
  },
  async run({ values }) {
    const cacheDir = process.env.CACHE_DIRECTORY?.split(':')[0];
    if (!cacheDir) throw usageError("warm: $CACHE_DIRECTORY is not set (the unit's CacheDirectory=)");
    const code = codeCacheHandle();
    if (!buildId || !code) {
      console.log('mfabox warm: not a built release (no bundle): nothing to cache');
      return 0;
    }
    configureLogging({ level: 'error' });
    return warm({
      code,
      config: async () => {
        const file = await ConfigFile.open(resolve(values.config));
        let source: 'cache' | 'validated' = 'validated';
        const config = await startConfig(file.current(), {
          cacheDir,
          buildId,
          onSource: (s) => (source = s),
        });
        return { config, source };
      },
      trialStart: async (config, beforeStop) => {
        // A box's first start finds the admin that first boot made; so does the trial (its
        // password is never shown, and the directory is deleted afterwards).
        const { resetAdminPassword } = await import('../web-api/admins.ts');
        await resetAdminPassword({ dataDir: config.dataDir });
        const app = await startAppliance(config, { noLeds: true });
        try {
          await new Promise((r) => setTimeout(r, AFTER_START_MS));
          await beforeStop();
        } finally {
          await app.stop();
        }
      },
      again: runAgain,
      isAgain: process.env[WARM_AGAIN_ENV] === '1',
      say: (l) => console.log(`mfabox warm: ${l}`),
    });
  },
});
