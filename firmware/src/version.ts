/** The firmware version: package.json's, beside the sources or beside the compiled release. */
import { readFile } from 'node:fs/promises';

let cached: string | undefined;

export async function firmwareVersion(): Promise<string> {
  if (cached !== undefined) return cached;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const v = JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (v.name === 'mfabox' && typeof v.version === 'string') return (cached = v.version);
    } catch {
      // try the next place
    }
  }
  return (cached = 'unknown');
}
