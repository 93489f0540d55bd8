/**
 * The simulated modem's interpreter, in-process (see engine-harness.ts): sending an SMS in PDU and in text
 * mode, and status reports.
 */
import { describe, expect, it, vi } from 'vitest';
import { decodeStatusReport, encodeSubmit } from '../../../../firmware/src/modem/pdu/index.ts';
import { pduSend, simModems, sleep, takeUntil } from './engine-harness.ts';

const modem = simModems();

describe('sending in PDU mode', () => {
  it('prompts with "> " and no line end, then answers +CMGS after the network time', async () => {
    // A network time far above the 10 ms look, so a loaded machine cannot make the look late.
    const m = modem('generic', {}, { smsDelayMs: 300 });
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'Your code is 123456' });
    expect(m.at(`AT+CMGS=${p!.tpduLength}\r`)).toBe('\r\n> ');
    expect(m.at(`${p!.hex}\x1a`)).toBe('');
    await sleep(10);
    expect(m.take()).toBe('');
    expect(await takeUntil(m, /OK\r\n$/)).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(m.handset.messages).toMatchObject([
      { to: '+15550000001', text: 'Your code is 123456', parts: 1, messageRefs: [0] },
    ]);
  });

  it('echoes the PDU when echo is on, as real modems do', async () => {
    const m = modem();
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    expect(m.at(p!.hex)).toBe(p!.hex);
    m.at('\x1a');
    await sleep(20);
    expect(m.take()).toContain('+CMGS: 0');
  });

  it('reassembles a concatenated message and numbers TP-MR per part', async () => {
    const m = modem();
    m.at('ATE0\r');
    const text = `${'a'.repeat(150)}€€€ and the rest of a long message`;
    const sms = m.handset.next();
    const prompts = [];
    for (const p of encodeSubmit({ to: '+15550000001', text })) {
      prompts.push(m.at(`AT+CMGS=${p.tpduLength}\r`));
      m.at(`${p.hex}\x1a`);
      await sleep(15);
    }
    expect(prompts).toEqual(['\r\n> ', '\r\n> ']);
    expect(await sms).toMatchObject({ text, parts: 2, messageRefs: [0, 1], encoding: 'gsm7' });
  });

  it('refuses a PDU whose TPDU length disagrees with AT+CMGS=<n> (+CMS ERROR: 304)', async () => {
    const m = modem();
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength + 1}\r`);
    m.at(`${p!.hex}\x1a`);
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMS ERROR: 304\r\n');
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    m.at('ZZ\x1a');
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMS ERROR: 304\r\n');
    expect(m.handset.parts).toHaveLength(0);
  });

  it('cancels on ESC without sending', async () => {
    const m = modem();
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    expect(m.at(`${p!.hex}\x1b`)).toBe('\r\nOK\r\n');
    await sleep(20);
    expect(m.handset.parts).toHaveLength(0);
    expect(m.at('AT\r')).toBe('\r\nOK\r\n');
  });

  it('queues a command typed while a send is in flight and answers it afterwards', async () => {
    const m = modem('generic', {}, { smsDelayMs: 20 });
    m.at('ATE0\r');
    pduSend(m, 'x');
    expect(m.at('AT+CSQ\r')).toBe('');
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CSQ: 22,99\r\n\r\nOK\r\n');
  });

  it('sends a +CDS status report when asked and CNMI ds=1, decodable by decodeStatusReport', async () => {
    const m = modem();
    m.at('ATE0;+CNMI=2,1,0,1,0\r');
    pduSend(m, 'report me', { statusReport: true });
    const out = await takeUntil(m, /\+CDS: /);
    const match = /\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n/.exec(out);
    expect(match).not.toBeNull();
    const r = decodeStatusReport(match![2]!);
    expect(r).toMatchObject({ messageReference: 0, recipient: '+15550000001', delivered: true });
    expect(r.tpduLength).toBe(Number(match![1]));
  });

  it('with ds=2 stores the report (+CDSI), serves it with +CMGR and forgets it after +CMGD', async () => {
    const m = modem('qualcomm-like');
    m.at('ATE0;+CNMI=2,1,0,2,0\r');
    m.fault({ kind: 'status-report', status: 0x46 });
    pduSend(m, 'report me', { statusReport: true });
    const idx = /\+CDSI: "SR",(\d+)/.exec(await takeUntil(m, /\+CDSI: /))?.[1];
    expect(idx).toBeDefined();
    const read = m.at(`AT+CMGR=${idx}\r`);
    const [, len, pdu] = /\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n/.exec(read) ?? [];
    const r = decodeStatusReport(pdu ?? '', { hasSmsc: true });
    expect(r).toMatchObject({
      messageReference: 0,
      recipient: '+15550000001',
      status: 0x46,
      delivered: false,
    });
    expect(r.tpduLength).toBe(Number(len));
    m.at(`AT+CMGD=${idx}\r`);
    expect(m.at(`AT+CMGR=${idx}\r`)).toBe('\r\n+CMS ERROR: 321\r\n');
  });

  it('text mode +CDS carries the TP-ST', async () => {
    const m = modem();
    m.at('ATE0;+CMGF=1;+CSMP=49,167,0,0;+CNMI=2,1,0,1,0\r');
    m.at('AT+CMGS="+15550000001"\r');
    m.at('x\x1a');
    // The report follows the send by at least 50 ms: polled, so a loaded machine does not fail it.
    let got = '';
    await vi.waitFor(
      () => {
        got += m.take();
        expect(got).toMatch(/\r\n\+CDS: 6,0,"\+15550000001",145,"[^"]+","[^"]+",0\r\n/);
      },
      { timeout: 3000 },
    );
  });

  it('sim7600 on LTE without SMS service refuses with +CMS ERROR: 500', async () => {
    const m = modem('sim7600-lte-no-sms');
    m.at('ATE0\r');
    expect(m.at('AT+CEREG?;+CREG?\r')).toContain('+CEREG: 0,1\r\n+CREG: 0,0');
    pduSend(m, 'x');
    await sleep(30);
    expect(m.take()).toBe('\r\n+CMS ERROR: 500\r\n');
  });

  it('huawei e173 refuses AT+CMMS=2', () => {
    const m = modem('huawei-e173', { periodicUrcs: undefined, urcInReply: undefined });
    m.at('ATE0\r');
    expect(m.at('AT+CMMS=2\r')).toBe('\r\n+CMS ERROR: 500\r\n');
  });
});

describe('sending in text mode', () => {
  it('takes the number, gives a new prompt per line, and records IRA text', async () => {
    const m = modem('cdma-text');
    m.at('ATE0\r');
    expect(m.at('AT+CMGS="+15550000001"\r')).toBe('\r\n> ');
    expect(m.at('line one\r')).toBe('\r\n> ');
    m.at('line two\x1a');
    await sleep(20);
    expect(m.take()).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(m.handset.messages[0]).toMatchObject({
      to: '+15550000001',
      text: 'line one\nline two',
      encoding: 'text-mode',
      validitySeconds: 86_400, // +CSMP default VP 167
    });
  });

  it('decodes a UCS2 body and a hex number when +CSCS="UCS2", and hex-encodes +CSCA', async () => {
    const m = modem();
    m.at('ATE0;+CMGF=1;+CSCS="UCS2";+CSMP=17,167,0,8\r');
    expect(m.at('AT+CSCA?\r')).toContain('+CSCA: "002B00310035003500350030003000300039003900390039",145');
    m.at('AT+CMGS="002B00310035003500350030003000300030003000300031"\r');
    m.at('004B006F0064003A0020017C\x1a');
    await sleep(20);
    expect(m.handset.messages[0]).toMatchObject({ to: '+15550000001', text: 'Kod: ż' });
  });
});
