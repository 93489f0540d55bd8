import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUBMIT_JOURNAL_FILE, SubmitJournal } from '../../../firmware/src/dispatch/submit-journal.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';

describe('SubmitJournal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-journal-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps the latest mark per entry across reopen, in a preallocated 0600 file', async () => {
    const j = SubmitJournal.open(dir);
    await j.mark(1, 1);
    await Promise.all([j.mark(2, 1), j.mark(1, 2), j.mark(4096 * 3 + 7, 1)]);
    j.close();
    const st = await stat(join(dir, SUBMIT_JOURNAL_FILE));
    expect(st.size).toBe(32 * 4096);
    expect(st.mode & 0o777).toBe(0o600);
    const again = SubmitJournal.open(dir);
    expect([...again.readAll()].sort((a, b) => a[0] - b[0])).toEqual([
      [1, 2],
      [2, 1],
      [4096 * 3 + 7, 1],
    ]);
    again.close();
  });

  it('ignores a torn or corrupted slot', async () => {
    const j = SubmitJournal.open(dir);
    await j.mark(5, 1);
    await j.mark(6, 1);
    j.close();
    const fh = await open(join(dir, SUBMIT_JOURNAL_FILE), 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, 5 * 32 + 13); // flip a byte of slot 5's count
    await fh.close();
    const again = SubmitJournal.open(dir);
    expect([...again.readAll()]).toEqual([[6, 1]]);
    again.close();
  });

  it('refuses to mark once closed, after letting a mark in progress finish', async () => {
    const j = SubmitJournal.open(dir);
    const inProgress = j.mark(1, 1);
    j.close();
    await expect(inProgress).resolves.toBeUndefined();
    await expect(j.mark(2, 1)).rejects.toMatchObject({ code: ErrorCode.StoreWriteFailed });
  });
});
