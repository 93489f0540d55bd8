/**
 * The durable "submitting" mark, on the hot path of every SMS. The modem waits at its `> ` prompt
 * until this returns, so it must be fast: a LevelDB durable write costs about a millisecond
 * (several under disk load), while an aligned `pwrite` plus `fdatasync` on a preallocated file
 * costs about 0.1–0.3 ms: its size never changes, so there is no metadata to journal.
 *
 * The file is a ring of fixed 32-byte slots, slot = seq mod SLOTS. A slot says "entry <seq> has
 * reached Ctrl-Z <submissions> times". LevelDB stays the source of truth for everything else;
 * at start the outbox treats an entry whose journal count exceeds its stored count as
 * `submitting` (outcome unknown). Slots are 32-byte aligned, so one never spans two disk
 * sectors, and a checksum rejects a torn or stale slot.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, MfaError } from '../errors.ts';

export const SUBMIT_JOURNAL_FILE = 'outbox-submit.journal';
const SLOT = 32;
const SLOTS = 4096;
const MAGIC = 0x4d53; // "MS"

function checksum(buf: Buffer): Buffer {
  return createHash('sha256').update(buf.subarray(0, 16)).digest().subarray(0, 8);
}

export class SubmitJournal {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private syncing = false;
  private closing = false;

  private constructor(private fd: number | undefined) {}

  /** Opens (creating and preallocating on first use) `<dataDir>/outbox-submit.journal`. */
  static open(dataDir: string): SubmitJournal {
    const path = join(dataDir, SUBMIT_JOURNAL_FILE);
    try {
      const fd = openSync(path, 'a+', 0o600);
      closeSync(fd);
      const rw = openSync(path, 'r+');
      if (fstatSync(rw).size !== SLOT * SLOTS) {
        ftruncateSync(rw, SLOT * SLOTS);
        fsyncSync(rw);
        const dir = openSync(dataDir, 'r');
        try {
          fsyncSync(dir);
        } finally {
          closeSync(dir);
        }
      }
      return new SubmitJournal(rw);
    } catch (e) {
      throw new MfaError(`cannot open the outbox submit journal ${path}`, ErrorCode.StoreOpenFailed, {
        cause: e,
      });
    }
  }

  /**
   * Durably records that entry `seq` reached Ctrl-Z for the `submissions`-th time. The 32-byte
   * write goes to the page cache at once; the fdatasync runs on the thread pool, one at a time,
   * covering every mark written before it started (group commit). One thread at most, because
   * serialport does its reads and writes on that same pool: fsyncs piling up there would stall
   * every modem's traffic behind a slow disk.
   */
  mark(seq: number, submissions: number): Promise<void> {
    const fd = this.fd;
    if (fd === undefined || this.closing)
      return Promise.reject(new MfaError('the submit journal is closed', ErrorCode.StoreWriteFailed));
    const buf = Buffer.alloc(SLOT);
    buf.writeUInt16BE(MAGIC, 0);
    buf.writeUInt8(1, 2);
    buf.writeBigUInt64BE(BigInt(seq), 4);
    buf.writeUInt32BE(submissions, 12);
    checksum(buf).copy(buf, 16);
    try {
      writeSync(fd, buf, 0, SLOT, (seq % SLOTS) * SLOT);
    } catch (e) {
      return Promise.reject(
        new MfaError('cannot write the outbox submit journal', ErrorCode.StoreWriteFailed, { cause: e }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.sync(fd);
    });
  }

  private sync(fd: number): void {
    this.syncing = true;
    const batch = this.waiting.splice(0);
    fdatasync(fd, (err) => {
      for (const w of batch)
        if (err)
          w.reject(
            new MfaError('cannot sync the outbox submit journal', ErrorCode.StoreWriteFailed, { cause: err }),
          );
        else w.resolve();
      this.syncing = false;
      if (this.waiting.length > 0) this.sync(fd);
      else if (this.closing) this.finishClose();
    });
  }

  /** Every valid slot: seq → submissions. */
  readAll(): Map<number, number> {
    const out = new Map<number, number>();
    if (this.fd === undefined) return out;
    const all = Buffer.alloc(SLOT * SLOTS);
    readSync(this.fd, all, 0, all.length, 0);
    for (let i = 0; i < SLOTS; i++) {
      const buf = all.subarray(i * SLOT, (i + 1) * SLOT);
      if (buf.readUInt16BE(0) !== MAGIC || buf.readUInt8(2) !== 1) continue;
      if (!checksum(buf).equals(buf.subarray(16, 24))) continue;
      const seq = Number(buf.readBigUInt64BE(4));
      if (seq % SLOTS !== i) continue;
      out.set(seq, buf.readUInt32BE(12));
    }
    return out;
  }

  /** Closes once marks in progress are done (a closed fd must not be written or reused). */
  close(): void {
    if (this.fd === undefined || this.closing) return;
    this.closing = true;
    if (!this.syncing) this.finishClose();
  }

  private finishClose(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
