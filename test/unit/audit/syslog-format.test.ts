import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../firmware/src/audit/records.ts';
import {
  SD_ID,
  formatSyslog,
  msgIdOf,
  octetCounted,
  severityOf,
} from '../../../firmware/src/audit/syslog-format.ts';
import { deframe, parse5424 } from '../../helpers/rfc5424.ts';

const T = Date.UTC(2026, 11, 6, 8, 2, 11, 345);
const opts = { facility: 'authpriv' as const, hostname: 'mfabox-1', procId: 812, maxBytes: 65536 };

const reject: AuditRecord = {
  kind: 'radius',
  t: T,
  user: 'CORP\\bob "the] builder"\nline2',
  account: 'bob',
  dn: 'CN=Bob Öztürk,OU=Ünits,DC=corp,DC=example',
  client: 'netscaler',
  source: '10.0.0.5',
  outcome: 'reject',
  reason: 'bad-password',
  code: 'AuthBadPassword',
  latencyMs: 12.3,
};

describe('RFC 5424 syslog format', () => {
  it('writes a header, one SD element with every field, and a BOM-prefixed MSG that parse as the ABNF says', () => {
    const m = parse5424(formatSyslog(reject, opts));
    expect(m.version).toBe(1);
    expect(m.facility).toBe(10); // authpriv
    expect(m.severity).toBe(4); // warning: a reject
    expect(m.timestamp).toBe('2026-12-06T08:02:11.345Z');
    expect(m.hostname).toBe('mfabox-1');
    expect(m.appName).toBe('mfabox');
    expect(m.procId).toBe('812');
    expect(m.msgId).toBe('radius-reject');
    const sd = m.sd[SD_ID];
    expect(sd).toBeDefined();
    // Quotes, backslashes and ] survive escaping; a newline is escaped so the frame stays one line.
    expect(sd?.user).toBe('CORP\\bob "the] builder"\\nline2');
    expect(sd?.dn).toBe('CN=Bob Öztürk,OU=Ünits,DC=corp,DC=example');
    expect(sd).toMatchObject({
      kind: 'radius',
      outcome: 'reject',
      reason: 'bad-password',
      code: 'AuthBadPassword',
      client: 'netscaler',
      latencyMs: '12.3',
    });
    expect(m.bom).toBe(true);
    expect(m.msg).toMatch(/^radius reject +reason=bad-password/);
    expect(formatSyslog(reject, opts)).not.toContain('\n');
  });

  it('maps severities: accepts info, rejects and drops warning, a failed SMS error, admin notice', () => {
    const base = { t: T };
    expect(
      severityOf({
        ...base,
        kind: 'radius',
        user: 'a',
        client: 'c',
        outcome: 'accept',
        reason: 'passcode-ok',
      }),
    ).toBe(6);
    expect(
      severityOf({ ...base, kind: 'radius', user: '', client: 'c', outcome: 'dropped', reason: 'malformed' }),
    ).toBe(4);
    expect(severityOf({ ...base, kind: 'sms', event: 'failed', challengeId: 'x' })).toBe(3);
    expect(severityOf({ ...base, kind: 'sms', event: 'sent', challengeId: 'x' })).toBe(6);
    expect(
      severityOf({ ...base, kind: 'admin', action: 'config-change', actor: 'admin', outcome: 'ok' }),
    ).toBe(5);
    expect(
      severityOf({ ...base, kind: 'admin', action: 'web-login-failed', actor: 'x', outcome: 'failed' }),
    ).toBe(4);
    expect(
      msgIdOf({ ...base, kind: 'admin', action: 'directory-sync-confirmed', actor: 'x', outcome: 'ok' }),
    ).toBe('admin-directory-sync-confirmed');
  });

  it('keeps a UDP message within 2048 bytes by cutting the MSG, then long values, never the syntax', () => {
    const huge: AuditRecord = {
      kind: 'admin',
      t: T,
      action: 'config-change',
      actor: 'admin',
      outcome: 'ok',
      changes: Array.from({ length: 200 }, (_, i) => ({
        field: `radius.clients[${i}].name`,
        old: '"a"',
        new: '"b"',
      })),
      detail: 'ä'.repeat(3000),
    };
    const msg = formatSyslog(huge, { ...opts, maxBytes: 2048 });
    expect(Buffer.byteLength(msg)).toBeLessThanOrEqual(2048);
    const m = parse5424(msg);
    expect(m.sd[SD_ID]?.changes?.endsWith('…')).toBe(true);
    expect(m.sd[SD_ID]?.action ?? m.sd[SD_ID]?.reason).toBe('config-change');
  });

  it('frames with RFC 6587 octet counting in bytes, not characters', () => {
    const a = formatSyslog(reject, opts);
    const b = formatSyslog({ ...reject, user: 'Лариса' }, opts);
    const stream = Buffer.concat([octetCounted(a), octetCounted(b), Buffer.from('12 partial')]);
    const { frames, rest } = deframe(stream);
    expect(frames.map((f) => f.toString())).toEqual([a, b]);
    expect(rest.toString()).toBe('12 partial');
    expect(parse5424(frames[1] ?? '').sd[SD_ID]?.user).toBe('Лариса');
  });
});
