/**
 * The config file as the one source of truth, with revisions. The web API replaces it whole
 * (atomically) and keeps the previous versions beside it, so an admin can diff, back up or
 * restore one over SSH. The revision is the number the web page sends back in If-Match: a write
 * against an older revision is refused instead of silently undoing someone else's change.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, MfaError } from '../errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { jsonErrorPosition } from './json-position.ts';

export type JsonObject = Record<string, unknown>;

export interface ConfigFileOptions {
  /** [1...100] previous versions kept in `<file>.history/`, default 10. */
  keep?: number;
}

export const isJsonObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseText(path: string, text: string): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, which may be a secret: the position only.
    throw new MfaError(
      `config file ${path} is not valid JSON (${jsonErrorPosition(text)})`,
      ErrorCode.ConfigInvalid,
    );
  }
  if (!isJsonObject(json))
    throw new MfaError(`config file ${path} must hold a JSON object`, ErrorCode.ConfigInvalid);
  return json;
}

export class ConfigFile {
  private text: string;
  private raw: JsonObject;
  private rev: number;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly keep: number,
    text: string,
    rev: number,
  ) {
    this.text = text;
    this.raw = parseText(path, text);
    this.rev = rev;
  }

  get historyDir(): string {
    return join(dirname(this.path), `${basename(this.path)}.history`);
  }

  /** Reads the file; `create` (the demo) writes it first when it does not exist yet. */
  static async open(
    path: string,
    opts: ConfigFileOptions & { create?: JsonObject } = {},
  ): Promise<ConfigFile> {
    const keep = Math.min(100, Math.max(1, opts.keep ?? 10));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && opts.create) {
        text = `${JSON.stringify(opts.create, null, 2)}\n`;
        await mkdir(dirname(path), { recursive: true });
        await writeFileAtomic(path, text);
      } else
        throw new MfaError(`cannot read config file ${path}`, ErrorCode.ConfigFileUnreadable, { cause: e });
    }
    const probe = new ConfigFile(path, keep, text, 1);
    const revs = await probe.historyRevisions();
    probe.rev = (revs.at(-1) ?? 0) + 1;
    return probe;
  }

  revision(): number {
    return this.rev;
  }

  /** The file's JSON as written (no defaults filled in): a deep copy the caller may change. */
  current(): JsonObject {
    return structuredClone(this.raw);
  }

  /** Revisions kept in the history, oldest first. */
  async historyRevisions(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.historyDir);
    } catch {
      return [];
    }
    return names
      .map((n) => /^(\d+)\.json$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /**
   * Replaces the file with `next` if the current revision is still `expected`; returns the new
   * revision. Writes are serialised. A file edited on disk since it was read is not overwritten:
   * the admin's SSH edit would be lost without anyone seeing it.
   */
  replace(expected: number, next: JsonObject): Promise<number> {
    const run = this.chain.then(async () => {
      if (expected !== this.rev)
        throw new MfaError(
          `the configuration changed (revision ${this.rev}, the change was made against ${expected}); reload and redo it`,
          ErrorCode.ConfigStale,
        );
      let onDisk: string;
      try {
        onDisk = await readFile(this.path, 'utf8');
      } catch (e) {
        throw new MfaError(`cannot read config file ${this.path}`, ErrorCode.ConfigFileUnreadable, {
          cause: e,
        });
      }
      if (onDisk !== this.text)
        throw new MfaError(
          `config file ${this.path} was edited on disk since the service read it; restart the service (mfabox) to load it, then redo the change`,
          ErrorCode.ConfigStale,
        );
      const text = `${JSON.stringify(next, null, 2)}\n`;
      await mkdir(this.historyDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(this.historyDir, `${this.rev}.json`), this.text);
      await writeFileAtomic(this.path, text);
      this.text = text;
      this.raw = structuredClone(next);
      this.rev += 1;
      await this.prune();
      return this.rev;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async prune(): Promise<void> {
    const revs = await this.historyRevisions();
    for (const r of revs.slice(0, Math.max(0, revs.length - this.keep)))
      await rm(join(this.historyDir, `${r}.json`), { force: true });
  }
}
