/**
 * What changed between two configs, field by field, for the audit (pure). Secrets never appear:
 * a secret field says only "set", "not set" or "changed".
 */
import { isJsonObject } from './config-file.ts';
import { isSecretPath } from './secrets.ts';

export interface ConfigChange {
  /** e.g. `radius.clients.1.secret`. */
  path: string;
  from: string;
  to: string;
}

const MAX_VALUE = 120;

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

export function diffConfig(before: unknown, after: unknown): ConfigChange[] {
  const out: ConfigChange[] = [];
  const walk = (a: unknown, b: unknown, path: (string | number)[]): void => {
    if (isSecretPath(path)) {
      if (a === b) return;
      const had = typeof a === 'string' && a !== '';
      const has = typeof b === 'string' && b !== '';
      out.push({
        path: path.join('.'),
        from: had ? 'set' : 'not set',
        to: has ? (had ? 'changed' : 'set') : 'not set',
      });
      return;
    }
    if (isJsonObject(a) && isJsonObject(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[k], b[k], [...path, k]);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], [...path, i]);
      return;
    }
    // A whole new (or removed) object: descend so its secrets are masked too.
    if (isJsonObject(a) !== isJsonObject(b) && (isJsonObject(a) || isJsonObject(b))) {
      const obj = (isJsonObject(a) ? a : b) as Record<string, unknown>;
      for (const k of Object.keys(obj))
        walk(isJsonObject(a) ? a[k] : undefined, isJsonObject(b) ? b[k] : undefined, [...path, k]);
      return;
    }
    if (Array.isArray(a) !== Array.isArray(b) && (Array.isArray(a) || Array.isArray(b))) {
      const list = (Array.isArray(a) ? a : b) as unknown[];
      for (let i = 0; i < list.length; i++)
        walk(Array.isArray(a) ? a[i] : undefined, Array.isArray(b) ? b[i] : undefined, [...path, i]);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push({ path: path.join('.'), from: show(a), to: show(b) });
  };
  walk(before, after, []);
  return out;
}
