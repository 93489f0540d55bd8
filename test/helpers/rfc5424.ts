/**
 * A strict RFC 5424 parser for tests, written from the RFC's ABNF (§6) rather than from our
 * formatter, plus RFC 6587 octet-counting de-framing. Throws on anything the ABNF does not allow.
 */
export interface Syslog5424 {
  pri: number;
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → param → value (unescaped). */
  sd: Record<string, Record<string, string>>;
  msg: string;
  bom: boolean;
}

const NIL = '-';

export function parse5424(frame: Buffer | string): Syslog5424 {
  const s = typeof frame === 'string' ? frame : frame.toString('utf8');
  const head = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) /.exec(s);
  if (!head) throw new Error(`not an RFC 5424 header: ${s.slice(0, 120)}`);
  const [, priS, verS, ts, host, app, proc, msgId] = head as unknown as string[];
  const pri = Number(priS);
  if (pri > 191) throw new Error(`PRI out of range: ${pri}`);
  for (const f of [ts, host, app, proc, msgId])
    if (!/^[\x21-\x7e]+$/.test(f ?? '')) throw new Error(`header field not PRINTUSASCII: ${f}`);
  if (ts !== NIL && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(ts ?? ''))
    throw new Error(`bad TIMESTAMP ${ts}`);
  let i = head[0].length;
  const sd: Record<string, Record<string, string>> = {};
  if (s[i] === '-') i++;
  else {
    if (s[i] !== '[') throw new Error(`STRUCTURED-DATA expected at ${i}`);
    while (s[i] === '[') {
      i++;
      const id = /^[^\s=\]"]{1,32}/.exec(s.slice(i))?.[0];
      if (!id) throw new Error('bad SD-ID');
      i += id.length;
      const params: Record<string, string> = {};
      while (s[i] === ' ') {
        i++;
        const name = /^[^\s=\]"]{1,32}/.exec(s.slice(i))?.[0];
        if (!name) throw new Error(`bad PARAM-NAME at ${i}`);
        i += name.length;
        if (s.slice(i, i + 2) !== '="') throw new Error(`="" expected after ${name}`);
        i += 2;
        let v = '';
        for (;;) {
          const c = s[i];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
            v += s[i + 1];
            i += 2;
            continue;
          }
          if (c === '"') break;
          if (c === ']') throw new Error(`unescaped ] in ${name}`);
          v += c;
          i++;
        }
        i++;
        params[name] = v;
      }
      if (s[i] !== ']') throw new Error(`] expected at ${i}`);
      i++;
      sd[id] = params;
    }
  }
  let msg = '';
  let bom = false;
  if (i < s.length) {
    if (s[i] !== ' ') throw new Error(`SP before MSG expected at ${i}`);
    msg = s.slice(i + 1);
    if (msg.startsWith('\uFEFF')) {
      bom = true;
      msg = msg.slice(1);
    }
  }
  return {
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    version: Number(verS),
    timestamp: ts ?? '',
    hostname: host ?? '',
    appName: app ?? '',
    procId: proc ?? '',
    msgId: msgId ?? '',
    sd,
    msg,
    bom,
  };
}

/** Splits an RFC 6587 octet-counted stream ("LEN SP MSG"...) into messages; returns the rest. */
export function deframe(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let i = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) break;
    const lenS = buf.subarray(i, sp).toString('ascii');
    if (!/^[1-9]\d{0,8}$/.test(lenS)) throw new Error(`bad MSG-LEN "${lenS}"`);
    const len = Number(lenS);
    if (buf.length < sp + 1 + len) break;
    frames.push(buf.subarray(sp + 1, sp + 1 + len));
    i = sp + 1 + len;
  }
  return { frames, rest: buf.subarray(i) };
}
