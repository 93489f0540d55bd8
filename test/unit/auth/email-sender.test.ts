import { createTransport } from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { createEmailSender, maskEmail } from '../../../firmware/src/auth/email-sender.ts';

describe('email sender (in-memory transport)', () => {
  it('sends from the configured address to the user, with the text as given', async () => {
    const t = createTransport({ jsonTransport: true });
    const s = createEmailSender({ host: 'relay.example.test', from: 'mfabox@example.test' }, t);
    const r = await s.send({ to: 'a.user@example.test', subject: 'Code', text: 'Your passcode is 123456' });
    expect(r.ok).toBe(true);
  });

  it('reports a relay error as a failure with its SMTP code, not a throw', async () => {
    const failing = {
      sendMail: () =>
        Promise.reject(
          Object.assign(new Error('550 no such user'), { code: 'EENVELOPE', responseCode: 550 }),
        ),
      close: () => undefined,
    } as unknown as Parameters<typeof createEmailSender>[1];
    const s = createEmailSender({ host: 'relay.example.test', from: 'mfabox@example.test' }, failing);
    const r = await s.send({ to: 'x@example.test', subject: 's', text: 't' });
    expect(r).toEqual({ ok: false, permanent: true, reason: 'EENVELOPE 550' });
  });

  it('masks an address down to its first letter and domain', () => {
    expect(maskEmail('j.smith@example.com')).toBe('j******@example.com');
    expect(maskEmail('nodomain')).toBe('******');
  });
});
