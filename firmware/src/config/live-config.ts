/**
 * The running configuration, edited live. A change is a JSON merge patch against a revision:
 * it is merged into the file's JSON, secrets sent back as {"set": true} are filled in, the result
 * is validated as a whole, applied to the running services, then written. If the services refuse
 * it, nothing is written; if the write fails, the services go back to the old config. Every
 * change is audited field by field, secrets masked.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import type { ConfigFile } from './config-file.ts';
import { checkConfig, type ConfigIssue } from './load.ts';
import { applyMergePatch } from './merge-patch.ts';
import type { Config } from './schema.ts';
import { maskSecrets, resolveSecrets } from './secrets.ts';

export interface ApplyResult {
  /** Fields whose new value takes effect only after a restart (listener addresses, TLS, modem ports). */
  restartNeeded: string[];
}

export interface LiveConfigDeps {
  file: ConfigFile;
  /** The config the services run with, from the file's (the demo overrides ports and paths). */
  effective(parsed: Config): Config;
  /** Reconfigures the running services; throws (having changed nothing) when one refuses. */
  apply(next: Config, prev: Config): Promise<ApplyResult>;
  /** One audit record per change: the file's configs before and after (defaults filled in). */
  audit(who: string, revision: number, before: Config, after: Config): Promise<void>;
}

/** A refused change: every failing field (400), or a stale revision (412). */
export class ConfigRejected extends MfaError {
  constructor(
    message: string,
    code: ErrorCode,
    readonly issues: ConfigIssue[] = [],
  ) {
    super(message, code, { field: issues[0]?.path });
  }
}

export class LiveConfig {
  private running: Config;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: LiveConfigDeps,
    initial: Config,
  ) {
    this.running = initial;
  }

  /** The config the services run with now. */
  get current(): Config {
    return this.running;
  }

  /**
   * What GET /api/config returns: the config as it runs (the file's, with defaults and the
   * demo's overrides), every secret as {"set": …}.
   */
  view(): { revision: number; config: Config } {
    const r = checkConfig(this.deps.file.current());
    // The file was valid when loaded and only valid configs are written; fall back to the running one.
    return {
      revision: this.deps.file.revision(),
      config: maskSecrets(r.ok ? this.deps.effective(r.config) : this.running),
    };
  }

  patch(expected: number, patch: unknown, who: string): Promise<{ revision: number } & ApplyResult> {
    const run = this.chain.then(() => this.patchNow(expected, patch, who));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async patchNow(
    expected: number,
    patch: unknown,
    who: string,
  ): Promise<{ revision: number } & ApplyResult> {
    const file = this.deps.file;
    if (expected !== file.revision())
      throw new ConfigRejected(
        `the configuration is at revision ${file.revision()}, the change was made against ${expected}: reload and redo it`,
        ErrorCode.ConfigStale,
      );
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
      throw new ConfigRejected(
        'a config change is a JSON object (RFC 7396 merge patch)',
        ErrorCode.ConfigInvalid,
        [{ path: '', message: 'expected a JSON object' }],
      );
    const stored = file.current();
    return this.commit(expected, applyMergePatch(stored, patch) as Record<string, unknown>, stored, who);
  }

  /** The file's JSON as stored (secrets included): for a backup, or to put back on a rollback. Never for the API. */
  stored(): { revision: number; json: Record<string, unknown> } {
    return { revision: this.deps.file.revision(), json: this.deps.file.current() };
  }

  /**
   * Replaces the whole file (a restored backup, a change rolled back), validated and applied
   * like a patch. {"set": true} markers still take the stored secret.
   */
  replace(expected: number, next: unknown, who: string): Promise<{ revision: number } & ApplyResult> {
    const run = this.chain.then(() => {
      const file = this.deps.file;
      if (expected !== file.revision())
        throw new ConfigRejected(
          `the configuration is at revision ${file.revision()}, not ${expected}: reload and redo it`,
          ErrorCode.ConfigStale,
        );
      if (typeof next !== 'object' || next === null || Array.isArray(next))
        throw new ConfigRejected('a configuration is a JSON object', ErrorCode.ConfigInvalid, [
          { path: '', message: 'expected a JSON object' },
        ]);
      return this.commit(expected, structuredClone(next) as Record<string, unknown>, file.current(), who);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async commit(
    expected: number,
    merged: Record<string, unknown>,
    stored: Record<string, unknown>,
    who: string,
  ): Promise<{ revision: number } & ApplyResult> {
    const file = this.deps.file;
    const secretProblems = resolveSecrets(merged, stored);
    const checked = checkConfig(merged);
    const issues = [...secretProblems, ...(checked.ok ? [] : checked.issues)];
    if (!checked.ok || issues.length > 0)
      throw new ConfigRejected(
        `invalid configuration: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
        ErrorCode.ConfigInvalid,
        issues,
      );
    const prevParsed = checkConfig(stored);
    const prev = this.running;
    const next = this.deps.effective(checked.config);
    let result: ApplyResult;
    try {
      result = await this.deps.apply(next, prev);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const field = e instanceof MfaError && e.field !== undefined ? e.field : '';
      throw new ConfigRejected(`the running services refused the change: ${msg}`, ErrorCode.ConfigInvalid, [
        { path: field, message: msg },
      ]);
    }
    let revision: number;
    try {
      revision = await file.replace(expected, merged);
    } catch (e) {
      await this.deps.apply(prev, next).catch(() => undefined);
      throw e;
    }
    this.running = next;
    await this.deps.audit(who, revision, prevParsed.ok ? prevParsed.config : prev, checked.config);
    return { revision, ...result };
  }
}
