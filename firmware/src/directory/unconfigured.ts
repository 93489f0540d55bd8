/**
 * The directory of a box in setup mode (none configured, or the demo one outside `mfabox demo`):
 * it knows no one and checks no password, so nothing can log in through it.
 */
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';

export class UnconfiguredDirectory implements Directory {
  constructor(private readonly why = 'no directory configured') {}

  verifyPassword(): Promise<VerifyResult> {
    return Promise.resolve({ ok: false, reason: 'unavailable', detail: this.why });
  }

  findUser(): Promise<DirectoryUser | undefined> {
    return Promise.resolve(undefined);
  }

  // eslint-disable-next-line require-yield -- an empty directory has no members
  async *listGroupMembers(): AsyncIterable<DirectoryUser> {
    await Promise.resolve();
    return;
  }

  health(): DirectoryHealth {
    return { state: 'down', detail: this.why };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
