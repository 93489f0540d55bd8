/**
 * `mfabox directory test` and `mfabox directory sync`. The test's diagnostics (each DC walked step
 * by step, with a hint for the failed step) live in directory/diagnose.ts.
 */
import { loadConfigFile } from '../config/load.ts';
import type { Config, LdapDirectoryConfig } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError, isMfaError } from '../errors.ts';
import { testDirectory } from '../directory/diagnose.ts';
import { createDirectory, createSync } from '../directory/factory.ts';
import type { SyncStatus } from '../directory/sync.ts';
import { syncAuditRecord } from '../directory/sync-audit.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { systemClock } from '../clock.ts';
import { openStore, type Store } from '../store/store.ts';
import { localApiTarget } from '../web-api/loopback.ts';
import { callSyncApi, targetUrl } from './sync-client.ts';
import { defineCommand } from './command.ts';
import { configOption, storeReason } from './local-service.ts';

async function ldapConfig(file: string): Promise<LdapDirectoryConfig | undefined> {
  const cfg = await loadConfigFile(file);
  return cfg.directory.kind === 'ldap' ? cfg.directory : undefined;
}

export const directoryTestCommand = defineCommand({
  name: 'directory test',
  summary: 'Connect, bind and search on every DC; says which step fails (DNS, TCP, TLS, bind, search)',
  options: {
    config: configOption,
    user: { type: 'string', value: 'NAME', help: 'also look this user up and show their numbers and groups' },
  },
  async run({ values }) {
    const user = values.user;
    const cfg = await ldapConfig(values.config);
    if (!cfg) {
      console.log('directory.kind is "demo": the in-memory demo directory needs no test.');
      return 0;
    }
    const r = await testDirectory(cfg, { ...(user === undefined ? {} : { user }), out: console.log });
    return r.passed === r.total && r.total > 0 ? 0 : 1;
  },
});

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
    // The service is stopped (this process holds the store): the sync is audited here, as root's.
    const audit = new AuditLog(store, systemClock);
    await audit.recordDurable(syncAuditRecord(status, { confirm, actor: 'cli' }));
    await audit.stop();
    return exitCodeOf(status);
  } finally {
    await directory.close();
    await store.close();
  }
}

export const directorySyncCommand = defineCommand({
  name: 'directory sync',
  summary: 'Sync the MFA group’s members and numbers into the user list now (through the service if it runs)',
  details: 'Exit codes: 0 synced, 3 removals held for --confirm, 1 failed.',
  options: {
    config: configOption,
    confirm: { type: 'boolean', help: 'apply a sync that removes more users than the safety limit' },
  },
  async run({ values }) {
    const config = await loadConfigFile(values.config);
    const confirm = values.confirm;
    let store: Store;
    try {
      store = await openStore(config.dataDir);
    } catch (e) {
      // The running service holds the store: ask it, over loopback, to run the sync.
      const why = storeReason(config.dataDir, e);
      const target = localApiTarget(config.web);
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
});
