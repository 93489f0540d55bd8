/**
 * `npm run bench -- pdu`: SMS-SUBMIT encode/decode cost against python3-gammu (C libGammu) on the
 * same messages in the same run, and the simulator's AT round trip over a real pty.
 */
import { execFileSync } from 'node:child_process';
import { SerialPort } from 'serialport';
import { decodeSubmit, encodeSubmit } from '../../firmware/src/modem/pdu/index.ts';
import { startSimulator } from '../../firmware/src/modem/simulator/index.ts';

const N = 2000;

function pduFigures(): void {
  const texts = Array.from({ length: N }, (_, i) => `Your MFA Box passcode is ${String(i).padStart(6, '0')}`);
  for (const t of texts.slice(0, 200)) decodeSubmit(encodeSubmit({ to: '+15550000001', text: t })[0]!.hex); // warm-up
  let t0 = performance.now();
  const hexes = texts.map((t) => encodeSubmit({ to: '+15550000001', text: t, validitySeconds: 300 })[0]!.hex);
  const encUs = ((performance.now() - t0) * 1000) / N;
  t0 = performance.now();
  for (const h of hexes) decodeSubmit(h);
  const decUs = ((performance.now() - t0) * 1000) / N;
  const [pyEnc, pyDec] = execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      `import gammu, time, sys
hs = [bytes.fromhex(l) for l in sys.stdin.read().split()]
sms = gammu.EncodeSMS({'Class': -1, 'Unicode': False, 'Entries': [{'ID': 'ConcatenatedTextLong', 'Buffer': 'Your MFA Box passcode is 000001'}]})[0]
sms['Number'] = '+15550000001'; sms['SMSC'] = {'Location': 0, 'Number': ''}
t = time.perf_counter()
for _ in hs: gammu.EncodePDU(sms)
e = time.perf_counter() - t
t = time.perf_counter()
for h in hs: gammu.DecodePDU(h, SMSC=True)
d = time.perf_counter() - t
print(e * 1e6 / len(hs), d * 1e6 / len(hs))`,
    ],
    { input: hexes.join('\n'), encoding: 'utf8' },
  )
    .trim()
    .split(' ')
    .map(Number);
  console.log(
    `pdu encode: ${encUs.toFixed(1)} µs/SMS; python3-gammu EncodePDU ${pyEnc!.toFixed(1)} µs; ratio ${(encUs / pyEnc!).toFixed(2)}`,
  );
  console.log(
    `pdu decode: ${decUs.toFixed(1)} µs/SMS; python3-gammu DecodePDU ${pyDec!.toFixed(1)} µs; ratio ${(decUs / pyDec!).toFixed(2)}`,
  );
}

async function ptyFigures(): Promise<void> {
  const sim = await startSimulator({ smsDelayMs: 0 });
  const port = new SerialPort({ path: sim.path, baudRate: 115200 });
  try {
    await new Promise((r) => port.once('open', r));
    let buf = '';
    let waiter: (() => void) | undefined;
    let until = /OK\r\n$/;
    port.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (until.test(buf)) waiter?.();
    });
    const cmd = (s: string, re = /OK\r\n$/): Promise<void> =>
      new Promise((res) => {
        buf = '';
        until = re;
        waiter = res;
        port.write(s);
      });
    await cmd('ATE0\r');
    const rtt: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      await cmd('AT\r');
      rtt.push(performance.now() - t);
    }
    const send: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [p] = encodeSubmit({ to: '+15550000001', text: `code ${i}` });
      const t = performance.now();
      await cmd(`AT+CMGS=${p!.tpduLength}\r`, /> $/);
      await cmd(`${p!.hex}\x1a`);
      send.push(performance.now() - t);
    }
    const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const p95 = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.95)]!;
    console.log(
      `simulator AT→OK over a socat pty: median ${med(rtt).toFixed(3)} ms, p95 ${p95(rtt).toFixed(3)} ms`,
    );
    console.log(
      `simulator AT+CMGS prompt → PDU → +CMGS with 0 ms network time: median ${med(send).toFixed(2)} ms, p95 ${p95(send).toFixed(2)} ms; handset got ${sim.inbox.messages.length}/200`,
    );
  } finally {
    if (port.isOpen) await new Promise((r) => port.close(r));
    await sim.stop();
  }
}

export async function run(): Promise<void> {
  pduFigures();
  await ptyFigures();
}
