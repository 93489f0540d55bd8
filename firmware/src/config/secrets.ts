/**
 * Which config fields are secrets, and the write-only view of them (pure). The API shows a
 * secret as {"set": true|false} and never returns its value; a {"set": true} sent back keeps
 * the stored value, so the page can save a form without knowing any secret.
 */
import { isJsonObject, type JsonObject } from './config-file.ts';

/** Paths of secret fields; `*` is every element of an array, matched across versions by `name`. */
export const SECRET_PATHS: readonly (readonly string[])[] = [
  ['radius', 'clients', '*', 'secret'],
  ['radius', 'clients', '*', 'monitorPassword'],
  ['directory', 'bindPassword'],
  ['modems', '*', 'pin'],
  ['web', 'monitorToken'],
  ['methods', 'email', 'password'],
];

export interface SecretMarker {
  set: boolean;
}

const isMarker = (v: unknown): v is SecretMarker =>
  isJsonObject(v) && Object.keys(v).length === 1 && typeof v.set === 'boolean';

/** True when `path` (keys and indexes) is a secret field. */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  return SECRET_PATHS.some(
    (p) =>
      p.length === path.length &&
      p.every((k, i) => (k === '*' ? typeof path[i] === 'number' : k === String(path[i]))),
  );
}

/** Calls `fn(parent, key, path, oldParent)` for every place a secret path lands in `doc`. */
function visit(
  doc: unknown,
  old: unknown,
  fn: (parent: JsonObject, key: string, path: (string | number)[], oldParent: JsonObject | undefined) => void,
): void {
  for (const pattern of SECRET_PATHS) {
    const walk = (node: unknown, prev: unknown, depth: number, path: (string | number)[]): void => {
      const k = pattern[depth];
      if (k === undefined) return;
      if (depth === pattern.length - 1) {
        if (isJsonObject(node)) fn(node, k, [...path, k], isJsonObject(prev) ? prev : undefined);
        return;
      }
      if (k === '*') {
        if (!Array.isArray(node)) return;
        const prevList = Array.isArray(prev) ? (prev as unknown[]) : [];
        node.forEach((el, i) => {
          const name = isJsonObject(el) ? el.name : undefined;
          // By name, never by index: a deleted row must not hand its secret to the next one.
          const match = prevList.find((p) => isJsonObject(p) && name !== undefined && p.name === name);
          walk(el, match, depth + 1, [...path, i]);
        });
        return;
      }
      if (!isJsonObject(node)) return;
      walk(node[k], isJsonObject(prev) ? prev[k] : undefined, depth + 1, [...path, k]);
    };
    walk(doc, old, 0, []);
  }
}

/** A copy with every secret replaced by {"set": true|false} (absent optional secrets show as not set). */
export function maskSecrets<T>(config: T): T {
  const out = structuredClone(config);
  visit(out, undefined, (parent, key) => {
    const v = parent[key];
    if (isMarker(v)) return;
    // A directory of the demo kind has no bindPassword: leave it out rather than show "not set".
    if (key === 'bindPassword' && parent.kind !== 'ldap') return;
    parent[key] = { set: typeof v === 'string' && v.length > 0 };
  });
  return out;
}

export interface SecretProblem {
  path: string;
  message: string;
}

/**
 * Turns markers in an edited document back into values: {"set": true} takes the stored value
 * (array elements matched by `name`), {"set": false} removes the secret. Returns the paths of
 * markers that have nothing stored to keep (a new client sent as {"set": true}).
 */
export function resolveSecrets(edited: unknown, stored: unknown): SecretProblem[] {
  const problems: SecretProblem[] = [];
  visit(edited, stored, (parent, key, path, oldParent) => {
    const v = parent[key];
    if (!isMarker(v)) return;
    if (!v.set) {
      delete parent[key];
      return;
    }
    const prev = oldParent?.[key];
    if (typeof prev === 'string' && prev.length > 0) parent[key] = prev;
    else
      problems.push({
        path: path.join('.'),
        message: 'no stored secret to keep here (a new or renamed entry): enter the secret',
      });
  });
  return problems;
}
