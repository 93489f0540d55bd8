import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ErrorCode, MfaError } from '../errors.ts';
import { jsonErrorPosition } from './json-position.ts';
import { inheritMfaGroup } from './defaults.ts';
import { configSchema, type Config } from './schema.ts';

export interface ConfigIssue {
  /** Dotted path of the failing field, e.g. `radius.clients.0.address`; "" for the whole config. */
  path: string;
  message: string;
}

/** Validates a whole config without throwing: the config, or every failing field. */
export function checkConfig(
  input: unknown,
): { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] } {
  const r = configSchema.safeParse(inheritMfaGroup(input));
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

/** Validates a whole config; the error names every failing field by its path. */
export function parseConfig(input: unknown): Config {
  const r = configSchema.safeParse(inheritMfaGroup(input));
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new MfaError(`invalid configuration:\n  ${issues.join('\n  ')}`, ErrorCode.ConfigInvalid, {
    field: r.error.issues[0]?.path.join('.'),
  });
}

export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new MfaError(`cannot read config file ${path}`, ErrorCode.ConfigFileUnreadable, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, which may be a secret: report the position only.
    throw new MfaError(
      `config file ${path} is not valid JSON (${jsonErrorPosition(text)})`,
      ErrorCode.ConfigInvalid,
    );
  }
  return parseConfig(json);
}

export { z };
