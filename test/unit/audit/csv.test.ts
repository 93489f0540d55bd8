import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { COLUMNS } from '../../../firmware/src/audit/columns.ts';
import { csvStream } from '../../../firmware/src/audit/csv.ts';
import type { AuditRecord } from '../../../firmware/src/audit/records.ts';

async function* from(rs: AuditRecord[]): AsyncGenerator<AuditRecord> {
  for (const r of rs) yield await Promise.resolve(r);
}

async function text(s: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const c of s) out += String(c);
  return out;
}

const T = Date.parse('2026-12-06T08:02:13.412Z');

describe('csvStream', () => {
  it('round-trips quotes, commas, line breaks and non-Latin names through csv-parse (RFC 4180)', async () => {
    const nasty = [
      'Smith, "Bob"',
      'line one\nline two',
      'cr\rlf\r\nend',
      'Дмитрий Иванов',
      '王小明',
      'محمد',
      'Ζωή 🙂',
    ];
    const records: AuditRecord[] = nasty.map((user, i) => ({
      kind: 'radius',
      t: T + i,
      user,
      account: user.toLowerCase(),
      dn: `CN=${user.replace(/,/g, '\\,')},OU=Staff,DC=corp`,
      client: 'netscaler',
      outcome: 'reject',
      reason: 'bad-password',
      explanation: `he said "no", then, well\n…`,
      latencyMs: 12.5,
    }));
    const csv = await text(csvStream(from(records)));
    expect(csv.startsWith(`${COLUMNS.join(',')}\r\n`)).toBe(true);
    const rows = parse<Record<string, string>>(csv, { columns: true, relax_column_count: false });
    expect(rows).toHaveLength(nasty.length);
    rows.forEach((row, i) => {
      expect(row.user).toBe(nasty[i]);
      expect(row.dn).toBe(records[i]?.kind === 'radius' ? records[i].dn : '');
      expect(row.explanation).toBe(`he said "no", then, well\n…`);
      expect(row.time).toBe(new Date(T + i).toISOString());
      expect(row.latencyMs).toBe('12.5');
      expect(row.code).toBe('');
    });
  });

  it('defuses spreadsheet formulas a stranger typed as a user name', async () => {
    const csv = await text(
      csvStream(
        from([
          {
            kind: 'radius',
            t: T,
            user: '=HYPERLINK("http://x")',
            client: 'ns',
            outcome: 'reject',
            reason: 'x',
          },
        ]),
      ),
    );
    const [row] = parse<Record<string, string>>(csv, { columns: true });
    expect(row?.user).toBe(`'=HYPERLINK("http://x")`);
  });

  it('streams a million records without holding them', async () => {
    const N = 1_000_000;
    function* many(): Generator<AuditRecord> {
      for (let i = 0; i < N; i++)
        yield {
          kind: 'radius',
          t: T + i,
          user: `user${i}`,
          client: 'ns',
          outcome: 'accept',
          reason: 'passcode-ok',
        };
    }
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let lines = 0;
    let bytes = 0;
    for await (const chunk of csvStream(many())) {
      const s = String(chunk);
      bytes += s.length;
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lines++;
      if ((lines & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(lines).toBe(N + 1);
    // About 80 MB of CSV went through; the heap never held more than a small part of it.
    expect(bytes).toBeGreaterThan(50_000_000);
    expect(peak - before).toBeLessThan(40_000_000);
  }, 180_000);
});
