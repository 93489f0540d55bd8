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
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

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
      ...userAttributes(s, 'sync'),
    ];
    const env = { LDAPTLS_CACERT: f.CA_FILE, LDAPTLS_REQCERT: 'demand' };
    await timeLdapsearch(args, env); // warm slapd's caches, so both sides read hot data
    // Medians of several runs: the build machine is shared, single runs are noisy.
    const lsRuns = [];
    for (let i = 0; i < RUNS; i++) lsRuns.push(await timeLdapsearch(args, env));
    const ls = { ms: median(lsRuns.map((r) => r.ms)), entries: lsRuns[0]?.entries ?? 0 };

    const directory = await createLdapDirectory(parsed);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
    /** One full sync into a fresh LevelDB, timed, with RSS sampled every 5 ms. */
    const timedSync = async (name: string) => {
      const store = await openStore(join(data, name));
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
      const ms = performance.now() - t0;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage.rss());
      const t1 = performance.now();
      const again = await sync.run();
      const resyncMs = performance.now() - t1;
      await store.close();
      return { status, ms, rssBefore, peak, resyncMs, unchanged: again.unchanged };
    };
    // The first sync in a fresh process pays for JIT warm-up; the appliance syncs every 15 min in a
    // long-running process, so the second (into another empty store) is the steady-state figure.
    const cold = await timedSync('cold');
    // The directory read alone (ldapts, paging, mapping; no numbers, no store), for the breakdown.
    const fetchRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      let n = 0;
      for await (const _ of directory.listGroupMembers('MFA Users')) n++;
      fetchRuns.push(performance.now() - t);
      if (n !== cold.status.seen) throw new Error(`fetch saw ${n} members, sync ${cold.status.seen}`);
    }
    const fetchMs = median(fetchRuns);
    const warmRuns = [];
    for (let i = 0; i < RUNS; i++) warmRuns.push(await timedSync(`warm${i}`));
    warmRuns.sort((a, b) => a.ms - b.ms);
    const warm = warmRuns[Math.floor(warmRuns.length / 2)] ?? cold;
    await directory.close();

    console.log(
      `  ldapsearch dump (StartTLS, paged ${PAGE}): ${ls.entries} entries in ${ls.ms.toFixed(0)} ms`,
    );
    for (const [label, r] of [
      ['first sync, cold process', cold],
      [`sync, warm process (median of ${RUNS})`, warm],
    ] as const) {
      const ratio = r.ms / ls.ms;
      console.log(
        `  ${label}: ${r.status.seen} members, ${r.status.added} added, ${r.status.skipped.length} skipped into an empty LevelDB in ${r.ms.toFixed(0)} ms` +
          ` → ratio sync / ldapsearch ${ratio.toFixed(2)} (target ≤ 2.0) ${ratio <= 2 ? 'PASS' : 'FAIL'}`,
      );
      console.log(
        `    peak RSS during sync: ${mb(r.peak)} MiB (before: ${mb(r.rssBefore)} MiB, +${mb(r.peak - r.rssBefore)} MiB)`,
      );
      console.log(
        `    re-sync, nothing changed: ${r.resyncMs.toFixed(0)} ms (${r.unchanged} unchanged) = ${(r.resyncMs / ls.ms).toFixed(2)} × ldapsearch`,
      );
    }
    console.log(
      `  of which the directory read alone (ldapts, paged, mapped): ${fetchMs.toFixed(0)} ms = ${(fetchMs / ls.ms).toFixed(2)} × ldapsearch`,
    );
  } finally {
    rmSync(data, { recursive: true, force: true });
    await peer.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
