/**
 * Distinguished names, pure: telling a DN from a group name, and comparing two DNs the way the
 * directory does. An admin types `CN=MFA Users, OU=Groups,DC=corp,DC=example`; AD hands back
 * `CN=MFA Users,OU=Groups,DC=corp,DC=example`. Both name one group, so a string compare must not
 * decide membership.
 */

/** Whether a group setting is a DN (used as is) or a CN to look up. */
export function isDn(group: string): boolean {
  return /^[A-Za-z][A-Za-z0-9-]*=/.test(group.trim());
}

interface Char {
  c: string;
  escaped: boolean;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 4514 escapes, hex pairs collected as bytes so `\C3\A9` is one é. */
function unescapeValue(raw: string): Char[] {
  const out: Char[] = [];
  const bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    let text: string;
    try {
      text = strictUtf8.decode(Uint8Array.from(bytes));
    } catch {
      // Not UTF-8: keep the bytes themselves, so two different invalid escapes stay different.
      text = bytes.map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
    }
    for (const c of text) out.push({ c, escaped: true });
    bytes.length = 0;
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? '';
    if (c === '\\' && i + 1 < raw.length) {
      const hex = raw.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
        continue;
      }
      flush();
      out.push({ c: raw[i + 1] ?? '', escaped: true });
      i += 1;
      continue;
    }
    flush();
    out.push({ c, escaped: false });
  }
  flush();
  return out;
}

/**
 * One attribute value, compared conservatively: unescaped outer spaces dropped and ASCII case
 * folded, nothing else. AD does not fold inner spaces or apply Unicode compatibility mappings, so
 * `Break  Glass`, `Break\C2\A0Glass` or a Kelvin sign for K can name a different group that
 * someone created next to the real one; they must not match it (an exempt group would then skip
 * the passcode). A spelling the box does not fold fails closed: the admin copies AD's own DN.
 */
function foldValue(raw: string): string {
  let chars = trimUnescaped(unescapeValue(raw));
  // An RFC 1779 quoted value: the quotes are not part of it, the spaces inside are.
  const last = chars.at(-1);
  if (chars.length >= 2 && chars[0]?.c === '"' && !chars[0].escaped && last?.c === '"' && !last.escaped)
    chars = chars.slice(1, -1).map((x) => ({ ...x, escaped: true }));
  return chars
    .map((x) => x.c)
    .join('')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function trimUnescaped(chars: Char[]): Char[] {
  let a = 0;
  let b = chars.length;
  while (a < b && chars[a]?.c === ' ' && !chars[a]?.escaped) a++;
  while (b > a && chars[b - 1]?.c === ' ' && !chars[b - 1]?.escaped) b--;
  return chars.slice(a, b);
}

/** Splits on separators outside escapes and quotes. */
function splitUnescaped(s: string, seps: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] ?? '');
      i += 1;
      continue;
    }
    // A quote opens a quoted value only where a value starts; anywhere else it is a character.
    if (c === '"' && (quoted || /=\s*$/.test(cur))) quoted = !quoted;
    if (!quoted && seps.includes(c)) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

/** A value re-escaped so that the joined form cannot be confused with another DN's. */
const canonical = (v: string): string => v.replace(/[\\,+=;]/g, (c) => `\\${c.charCodeAt(0).toString(16)}`);

/**
 * A DN in a form where two spellings of one entry compare equal: attribute types and values case
 * folded, spaces around separators dropped, escapes resolved, the values of a multi-valued RDN
 * sorted. Never throws; a string that is no DN comes back folded.
 */
export function normalizeDn(dn: string): string {
  return splitUnescaped(dn.trim(), ',;')
    .map((rdn) =>
      splitUnescaped(rdn, '+')
        .map((ava) => {
          const eq = ava.indexOf('=');
          const type = (eq < 0 ? '' : ava.slice(0, eq)).trim().toLowerCase();
          const value = foldValue(eq < 0 ? ava : ava.slice(eq + 1));
          return `${type}=${canonical(value)}`;
        })
        .sort()
        .join('+'),
    )
    .join(',');
}

/** Whether two DNs name the same entry (see `normalizeDn`). */
export function sameDn(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}
