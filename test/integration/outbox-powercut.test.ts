/**
 * Power cuts, for real: the outbox runs in a child process over a real LevelDB and is SIGKILLed
 * after enqueue and while submitting; a new process reopens the store. Sends are counted by the
 * child's sender in an fsynced log, so they survive the kills too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxRecord, SmsResendAudit } from '../../firmware/src/dispatch/outbox.ts';
import { openStore } from '../../firmware/src/store/store.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'outbox-child.ts');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Run {
  lines: string[];
  /** Resolves when a line matching `re` has been printed `count` times. */
  waitFor(re: RegExp, count?: number): Promise<void>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

function run(dir: string, mode: string, entries: { id: string; lifeMs: number }[] = []): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode, JSON.stringify(entries)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MFABOX_LOG_LEVEL: 'silent' },
  });
  children.add(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  return {
    lines,
    exited,
    waitFor: (re, count = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (lines.filter((l) => re.test(l)).length >= count) resolve();
          else if (child.exitCode !== null || child.signalCode !== null)
            reject(new Error(`child exited before ${String(re)}: ${lines.join(' | ')}`));
          else waiters.push(check);
        };
        check();
      }),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function sends(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let raw: string;
  try {
    raw = await readFile(join(dir, 'sends.log'), 'utf8');
  } catch {
    return out;
  }
  for (const line of raw.split('\n').filter(Boolean)) {
    const { text } = JSON.parse(line) as { text: string };
    const id = text.split(' ')[0] ?? '';
    out.set(id, [...(out.get(id) ?? []), text]);
  }
  return out;
}

async function readBack(dir: string): Promise<{ recs: Map<string, OutboxRecord>; audits: SmsResendAudit[] }> {
  const store = await openStore(join(dir, 'db'));
  try {
    const recs = new Map<string, OutboxRecord>();
    for await (const [k, v] of store.table<OutboxRecord>('outbox').entries({ gte: 'q!', lt: 'q"' }))
      if (k.startsWith('q!')) recs.set(v.challengeId, v);
    const audits: SmsResendAudit[] = [];
    for await (const [, v] of store.table<SmsResendAudit>('audit').entries()) audits.push(v);
    return { recs, audits };
  } finally {
    await store.close();
  }
}

describe('outbox power cut (child process + SIGKILL + real LevelDB)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-powercut-'));
    return () => rm(dir, { recursive: true, force: true });
  });

  it('queued are sent once, expired are logged not sent, submitting is resent at most once with audit', async () => {
    // 1. Enqueue, then cut the power before any modem got a prompt.
    const a = run(dir, 'hang-before-prompt', [
      { id: 'q1', lifeMs: 300_000 },
      { id: 'q2', lifeMs: 300_000 },
      { id: 'q3', lifeMs: 300_000 },
      { id: 'e1', lifeMs: 1000 },
      { id: 'e2', lifeMs: 1000 },
    ]);
    await a.waitFor(/^ENQUEUED /, 5);
    await a.kill();
    expect((await sends(dir)).size).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // e1, e2 expire while the box is off

    // 2. Power back: q1 reaches Ctrl-Z, then the power goes again before the modem answers.
    const b = run(dir, 'hang-after-submit');
    await b.waitFor(/^SUBMITTED q1$/);
    await b.kill();

    // 3. Power back: q1 (unknown outcome) is resent once; cut again mid-resend.
    const c = run(dir, 'hang-after-submit');
    await c.waitFor(/^SUBMITTED q1$/);
    await c.kill();

    // 4. Power back with a working modem: q1 has spent its resend; the rest drain.
    const d = run(dir, 'ok');
    await d.waitFor(/^DRAINED /);
    expect(await d.exited).toBe(0);

    const sent = await sends(dir);
    expect(sent.get('q1')).toEqual(['q1 passcode 424242', 'q1 passcode 424242']);
    expect(sent.get('q2')).toEqual(['q2 passcode 424242']);
    expect(sent.get('q3')).toEqual(['q3 passcode 424242']);
    expect(sent.has('e1')).toBe(false);
    expect(sent.has('e2')).toBe(false);

    const { recs, audits } = await readBack(dir);
    expect(recs.get('q1')).toMatchObject({ status: 'failed', submissions: 2, resentUnknown: true });
    expect(recs.get('q2')).toMatchObject({ status: 'sent', submissions: 1 });
    expect(recs.get('q3')).toMatchObject({ status: 'sent', submissions: 1 });
    expect(recs.get('e1')).toMatchObject({ status: 'expired', submissions: 0 });
    expect(recs.get('e2')).toMatchObject({ status: 'expired', submissions: 0 });
    for (const r of recs.values()) expect(r.sealed).toBeUndefined(); // all final: no text left
    expect(audits).toEqual([
      expect.objectContaining({
        kind: 'sms-resend-unknown-outcome',
        challengeId: 'q1',
        to: '******0001',
        outcome: 'unknown',
      }),
    ]);
    // The database never held the passcode in clear.
    for (const f of await readdir(join(dir, 'db'))) {
      expect((await readFile(join(dir, 'db', f))).includes(Buffer.from('424242'))).toBe(false);
    }
  }, 60_000);

  it('a resend after one cut in submitting goes out once more and is audited as sent', async () => {
    const b = run(dir, 'hang-after-submit', [{ id: 's1', lifeMs: 300_000 }]);
    await b.waitFor(/^SUBMITTED s1$/);
    await b.kill();
    const d = run(dir, 'ok');
    await d.waitFor(/^DRAINED /);
    expect(await d.exited).toBe(0);
    expect((await sends(dir)).get('s1')).toEqual(['s1 passcode 424242', 's1 passcode 424242']);
    const { recs, audits } = await readBack(dir);
    expect(recs.get('s1')).toMatchObject({ status: 'sent', submissions: 2 });
    expect(audits).toEqual([expect.objectContaining({ challengeId: 's1', outcome: 'sent', modem: 'child' })]);
  }, 60_000);

  it('a cut at a random moment during a burst of enqueues loses no acknowledged entry and duplicates none', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => ({ id: `b${i}`, lifeMs: 300_000 }));
    const a = run(dir, 'hang-before-prompt', ids);
    await a.waitFor(/^ENQUEUED /, 5 + Math.floor(Math.random() * 20));
    await a.kill();
    const acked = a.lines.filter((l) => l.startsWith('ENQUEUED ')).map((l) => l.slice(9));
    const d = run(dir, 'ok');
    await d.waitFor(/^DRAINED /);
    expect(await d.exited).toBe(0);
    const sent = await sends(dir);
    expect(acked.length).toBeGreaterThanOrEqual(5);
    for (const id of acked) expect(sent.get(id), id).toHaveLength(1);
    for (const [id, texts] of sent) expect(texts, id).toHaveLength(1);
  }, 60_000);
});
