/**
 * The email sender against a real SMTP server (smtp-server) on 127.0.0.1 with STARTTLS: a
 * self-signed CA made with openssl (helpers/tls-files.ts), the relay's certificate signed by it, the CA pinned.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailSender } from '../../firmware/src/auth/email-sender.ts';
import { makeTlsFiles, type TlsFiles } from '../helpers/tls-files.ts';

let dir: string;
let server: SMTPServer;
let port: number;
let tlsFiles: TlsFiles;
const received: { to: string[]; body: string; secure: boolean }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mfabox-smtp-'));
  tlsFiles = makeTlsFiles(dir);
  server = new SMTPServer({
    key: readFileSync(tlsFiles.keyFile),
    cert: readFileSync(tlsFiles.certFile),
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString('utf8')));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), body, secure: session.secure });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('email sender over STARTTLS', () => {
  /** One mail to the relay with `caFile` pinned, through a sender closed afterwards. */
  async function sendPinned(caFile: string, text: string) {
    const s = createEmailSender({ host: '127.0.0.1', port, from: 'mfabox@example.test', caFile });
    try {
      return await s.send({ to: 'j.smith@example.test', subject: 'Your code', text });
    } finally {
      s.close();
    }
  }

  it('delivers the passcode through the relay, over TLS, with the CA pinned', async () => {
    const r = await sendPinned(tlsFiles.caFile, 'Your passcode is 482913');
    expect(r.ok).toBe(true);
    const got = received.at(-1);
    expect(got?.to).toEqual(['j.smith@example.test']);
    expect(got?.secure).toBe(true);
    expect(got?.body).toContain('482913');
  }, 30_000);

  it('refuses a relay whose certificate is not signed by the pinned CA', async () => {
    const before = received.length;
    const r = await sendPinned(tlsFiles.otherCaFile, 'Your passcode is 111111');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.permanent).toBe(true);
    expect(received.length).toBe(before);
  }, 30_000);

  it('refuses a relay that does not offer STARTTLS (no passcode in clear)', async () => {
    const plain = new SMTPServer({
      hideSTARTTLS: true,
      authOptional: true,
      logger: false,
      onData: (st, _s, cb) => {
        st.resume();
        st.on('end', () => cb());
      },
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const p = (plain.server.address() as AddressInfo).port;
    const s = createEmailSender({
      host: '127.0.0.1',
      port: p,
      from: 'mfabox@example.test',
      caFile: tlsFiles.caFile,
    });
    const r = await s.send({
      to: 'j.smith@example.test',
      subject: 'Your code',
      text: 'Your passcode is 222222',
    });
    s.close();
    await new Promise<void>((resolve) => plain.close(() => resolve()));
    expect(r.ok).toBe(false);
  }, 30_000);
});
