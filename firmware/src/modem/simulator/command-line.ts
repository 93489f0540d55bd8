/**
 * V.250 command lines, pure: splits "AT+CMGF=0;+CSCA?E0V1" into commands and parses their
 * arguments. The simulator's interpreter dispatches on the result.
 */
export type CommandOp = 'exec' | 'set' | 'read' | 'test';

export interface AtCommand {
  /** Upper-case name: "+CMGF", "^CURC", "E", "&C", "I", "Z", "S0". */
  name: string;
  op: CommandOp;
  /** The raw text after "=" (set) or after the name of a basic command ("0" in "E0"). */
  raw: string;
  /** Comma-separated arguments with quotes removed; empty strings for omitted ones. */
  args: string[];
}

/** Prefixes of extended command names (V.250 §5.4.1 plus vendor "^", "$", "*", "#"). */
const EXTENDED = new Set(['+', '^', '$', '*', '#', '%']);

/**
 * Parses the body of a command line (the text after "AT"). Returns undefined when the line is
 * malformed (an unterminated quote), which a modem answers with ERROR.
 */
export function parseCommandBody(body: string): AtCommand[] | undefined {
  const out: AtCommand[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body.charAt(i);
    if (c === ' ' || c === ';') {
      i++;
      continue;
    }
    if (EXTENDED.has(c)) {
      let j = i + 1;
      while (j < body.length && /[A-Za-z0-9!%\-./:_]/.test(body.charAt(j))) j++;
      const name = body.slice(i, j).toUpperCase();
      // The argument runs to the next ";" outside quotes.
      let k = j;
      let quoted = false;
      while (k < body.length && (quoted || body.charAt(k) !== ';')) {
        if (body.charAt(k) === '"') quoted = !quoted;
        k++;
      }
      if (quoted) return undefined;
      const rest = body.slice(j, k);
      out.push(extended(name, rest));
      i = k;
      continue;
    }
    // Basic commands: a letter or "&"+letter, then an optional number; "S" takes "n=v" or "n?".
    let name = c.toUpperCase();
    let j = i + 1;
    if (c === '&' && j < body.length) name += body.charAt(j++).toUpperCase();
    if (name === 'D') {
      out.push({ name, op: 'exec', raw: body.slice(j), args: [body.slice(j)] });
      break;
    }
    if (name === 'S') {
      let k = j;
      while (k < body.length && /[0-9]/.test(body.charAt(k))) k++;
      const reg = body.slice(j, k);
      if (body.charAt(k) === '?') {
        out.push({ name: `S${reg}`, op: 'read', raw: '', args: [] });
        i = k + 1;
      } else if (body.charAt(k) === '=') {
        let m = k + 1;
        while (m < body.length && /[0-9]/.test(body.charAt(m))) m++;
        out.push({ name: `S${reg}`, op: 'set', raw: body.slice(k + 1, m), args: [body.slice(k + 1, m)] });
        i = m;
      } else {
        out.push({ name: `S${reg}`, op: 'exec', raw: '', args: [] });
        i = k;
      }
      continue;
    }
    let k = j;
    while (k < body.length && /[0-9]/.test(body.charAt(k))) k++;
    const num = body.slice(j, k);
    out.push({ name, op: 'exec', raw: num, args: num === '' ? [] : [num] });
    i = k;
  }
  return out;
}

function extended(name: string, rest: string): AtCommand {
  if (rest === '') return { name, op: 'exec', raw: '', args: [] };
  if (rest === '?') return { name, op: 'read', raw: '', args: [] };
  if (rest === '=?') return { name, op: 'test', raw: '', args: [] };
  if (rest.startsWith('=')) {
    const raw = rest.slice(1);
    return { name, op: 'set', raw, args: splitArgs(raw) };
  }
  // "AT+CPINR" style with trailing garbage, or "AT^ICCID?" with spaces: treat as exec.
  return { name, op: rest.trim() === '?' ? 'read' : 'exec', raw: rest, args: splitArgs(rest) };
}

export function splitArgs(raw: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of raw) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      args.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  args.push(quoted ? cur : cur.trim());
  return args;
}
