/**
 * `npm run bench -- directory`: sync 10,000 group members from a real slapd into LevelDB, and compare
 * with the time `ldapsearch` takes to dump the same entries (same filter, attributes, page size and
 * StartTLS) in the same run. Target: sync ≤ 2.0 × ldapsearch. Also prints the peak RSS during sync.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../../firmware/src/config/load.ts';
import {
  dialectSettings,
  groupMembersFilter,
  userAttributes,
} from '../../firmware/src/directory/dialects.ts';
import { createLdapDirectory } from '../../firmware/src/directory/ldap.ts';
import { DirectorySync } from '../../firmware/src/directory/sync.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { startPeer } from '../integration/peers.ts';

const USERS = Number(process.env.MFABOX_BENCH_USERS ?? 10_000);
const PAGE = 1000;

function timeLdapsearch(
  args: string[],
  env: Record<string, string>,
): Promise<{ ms: number; entries: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('ldapsearch', args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let entries = 0;
    let tail = '';
    p.stdout.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('dn:')) entries++;
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code !== 0) reject(new Error(`ldapsearch exited ${code}: ${err}`));
      else resolve({ ms: performance.now() - t0, entries });
    });
  });
}

export async function run(): Promise<void> {
  const tStart = performance.now();
  const peer = await startPeer('scripts/start-slapd.sh', { BULK_USERS: String(USERS) }, 600_000);
  const f = peer.facts;
  console.log(
    `directory bench: slapd with ${USERS + 5} group members ready in ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
  );
  const data = mkdtempSync(join(tmpdir(), 'mfabox-bench-dir-'));
  try {
    const parsed = parseConfig({
      directory: {
        kind: 'ldap',
        dialect: 'openldap',
        urls: [f.LDAP_URL],
        caFile: f.CA_FILE,
        baseDn: f.BASE,
        bindDn: f.SERVICE_DN,
        bindPassword: f.SERVICE_PW,
        pageSize: PAGE,
      },
    }).directory;
    if (parsed.kind !== 'ldap') throw new Error('ldap config expected');
    const s = dialectSettings(parsed);
    const args = [
      '-x',
      '-LLL',
      '-ZZ',
      '-H',
      f.LDAP_URL,
      '-D',
      f.SERVICE_DN,
      '-w',
      f.SERVICE_PW,
      '-b',
      f.BASE,
      '-E',
      `pr=${PAGE}/noprompt`,
      groupMembersFilter(s, f.GROUP_DN),
      ...userAttributes(s),
    ];
    const env = { LDAPTLS_CACERT: f.CA_FILE, LDAPTLS_REQCERT: 'demand' };
    await timeLdapsearch(args, env); // warm slapd's caches, so both sides read hot data
    const ls = await timeLdapsearch(args, env);

    const store = await openStore(join(data, 'db'));
    const directory = await createLdapDirectory(parsed);
    const sync = new DirectorySync({
      directory,
      store,
      group: 'MFA Users',
      defaultCountry: 'DE',
      maxRemovalPercent: 10,
    });
    const rssBefore = process.memoryUsage.rss();
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    const t0 = performance.now();
    const status = await sync.run();
    const syncMs = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
    const t1 = performance.now();
    const again = await sync.run();
    const resyncMs = performance.now() - t1;
    await directory.close();
    await store.close();

    const ratio = syncMs / ls.ms;
    const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
    console.log(
      `  ldapsearch dump (StartTLS, paged ${PAGE}): ${ls.entries} entries in ${ls.ms.toFixed(0)} ms`,
    );
    console.log(
      `  sync into LevelDB: ${status.seen} members, ${status.added} added, ${status.skipped.length} skipped in ${syncMs.toFixed(0)} ms`,
    );
    console.log(
      `  ratio sync / ldapsearch: ${ratio.toFixed(2)} (target ≤ 2.0) ${ratio <= 2 ? 'PASS' : 'FAIL'}`,
    );
    console.log(
      `  peak RSS during sync: ${mb(peak)} MiB (before: ${mb(rssBefore)} MiB, +${mb(peak - rssBefore)} MiB)`,
    );
    console.log(
      `  re-sync with nothing changed: ${resyncMs.toFixed(0)} ms (${again.unchanged} unchanged) = ${(resyncMs / ls.ms).toFixed(2)} × ldapsearch`,
    );
  } finally {
    rmSync(data, { recursive: true, force: true });
    await peer.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
