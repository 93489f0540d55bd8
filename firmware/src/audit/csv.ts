/**
 * CSV export (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes
 * doubled) by csv-stringify, streamed: records are read from the store as the consumer takes
 * them, so a million records never sit in memory.
 *
 * A cell that starts with = + - @ (or tab, CR) gets a leading ' so a spreadsheet shows it instead
 * of running it: the User-Name is whatever a stranger typed at the login page.
 */
import { Readable } from 'node:stream';
import { stringify, type Stringifier } from 'csv-stringify';
import { COLUMNS, flatten } from './columns.ts';
import type { AuditRecord } from './records.ts';

async function* flat(
  records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>,
): AsyncGenerator<Record<string, string>> {
  for await (const r of records) yield flatten(r);
}

/** A readable stream of CSV text (header first) for the records, pulled as it is read. */
export function csvStream(records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>): Readable {
  const out: Stringifier = stringify({
    header: true,
    columns: COLUMNS.map((c) => ({ key: c, header: c })),
    record_delimiter: '\r\n',
    // With our own delimiter set, a lone \n or \r inside a field is not quoted unless asked (RFC 4180 wants it quoted).
    quote_record_delimiter: true,
    escape_formulas: true,
  });
  const src = Readable.from(flat(records));
  src.on('error', (e) => out.destroy(e));
  return src.pipe(out);
}
