/**
 * RFC 4515 filter escaping, pure. Every value that came from a user (a login name) or from the
 * directory (a group DN) passes through `escapeFilterValue` before it lands in a filter string, so
 * `*)(uid=*` is a literal name, never a wildcard or a second clause.
 */

/** Escapes `\`, `*`, `(`, `)` and NUL (the RFC 4515 minimum) as `\XX`. Other UTF-8 passes as is. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '\\':
        out += '\\5c';
        break;
      case '*':
        out += '\\2a';
        break;
      case '(':
        out += '\\28';
        break;
      case ')':
        out += '\\29';
        break;
      case '\u0000':
        out += '\\00';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/** `(attr=value)` with the value escaped. The attribute name comes from config, never from input. */
export function eq(attribute: string, value: string): string {
  return `(${attribute}=${escapeFilterValue(value)})`;
}

/** AND of the given clauses, skipping empty ones. */
export function and(...clauses: string[]): string {
  const parts = clauses.filter((c) => c.length > 0);
  if (parts.length === 1) return parts[0] ?? '';
  return `(&${parts.join('')})`;
}

/** OR of the given clauses; a single clause is returned bare. */
export function or(...clauses: string[]): string {
  const parts = clauses.filter((c) => c.length > 0);
  if (parts.length === 1) return parts[0] ?? '';
  return `(|${parts.join('')})`;
}

/** A config-supplied filter may be written with or without its outer parentheses. */
export function wrapFilter(filter: string): string {
  const f = filter.trim();
  if (f.length === 0) return '';
  return f.startsWith('(') ? f : `(${f})`;
}
