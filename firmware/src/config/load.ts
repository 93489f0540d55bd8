import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ErrorCode, MfaError } from '../errors.ts';
import { configSchema, type Config } from './schema.ts';

/** Validates a whole config; the error names every failing field by its path. */
export function parseConfig(input: unknown): Config {
  const r = configSchema.safeParse(input);
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
  } catch (e) {
    throw new MfaError(
      `config file ${path} is not valid JSON: ${(e as Error).message}`,
      ErrorCode.ConfigInvalid,
      {
        cause: e,
      },
    );
  }
  return parseConfig(json);
}

export { z };
