/**
 * Cross-checks our SMS-SUBMIT encoder with an independent decoder nobody here wrote: Debian's
 * python3-gammu (`gammu.DecodePDU`). All PDUs go to one python process, so the test stays fast.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeSubmit, GSM7_EXTENSION_CHARS, type SubmitInput } from '../../firmware/src/modem/pdu/index.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = `
import gammu, json, sys
out = []
for h in json.load(sys.stdin):
    d = gammu.DecodePDU(bytes.fromhex(h), SMSC=True)
    out.append({'Number': d['Number'], 'Text': d['Text'], 'Coding': d['Coding'], 'Class': d['Class'],
                'Type': d['Type'], 'Validity': d['SMSC']['Validity'], 'Length': d['Length'], 'UDH': {k: (v.hex() if isinstance(v, bytes) else v) for k, v in d['UDH'].items()}})
print(json.dumps(out))
`;

interface GammuSms {
  Number: string;
  Text: string;
  Coding: string;
  Class: number;
  Type: string;
  Validity: string;
  Length: number;
  UDH: { Type: string; ID8bit: number; PartNumber: number; AllParts: number };
}

/**
 * gammu's DecodePDU treats TP-UDL as a character count, so every extension character (two septets)
 * makes it read one character past the end (gammu decodes its own encoder's output the same way).
 * Keep the first `Length` minus the overrun: the characters that really were in the user data.
 */
function trimEscapeOverrun(text: string, length: number): string {
  const ext = [...text.slice(0, length)].filter((ch) => '{}[]~|\\^€\f'.includes(ch)).length;
  return text.slice(0, length - ext);
}

const available = existsSync('/usr/lib/python3/dist-packages/gammu/__init__.py');

const CASES: Array<{ name: string; input: SubmitInput; validity?: string }> = [
  { name: 'plain ASCII passcode', input: { to: '+15550000001', text: 'Your MFA Box code is 482913' } },
  { name: 'national number', input: { to: '01511234567', text: 'code 000111' } },
  {
    name: 'every GSM basic char',
    input: { to: '+4915112345678', text: '@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!"#¤%&\'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà' },
  },
  { name: 'extension chars', input: { to: '+15550000001', text: '{[~]} | \\ ^ € end' } },
  // Every character of the GSM 7-bit extension table (form feed too), each between two plain ones.
  {
    name: 'every GSM7 extension character',
    input: { to: '+15550000001', text: GSM7_EXTENSION_CHARS.map((ch) => `a${ch}`).join('') + 'z' },
  },
  {
    name: 'extension characters across a concatenation seam',
    input: {
      to: '+15550000001',
      text: 'x'.repeat(152) + GSM7_EXTENSION_CHARS.join('').repeat(3),
      concatRef: 33,
    },
  },
  { name: 'flash', input: { to: '+15550000001', text: 'flash 123456', flash: true } },
  { name: 'status report', input: { to: '+15550000001', text: 'srr', statusReport: true } },
  {
    name: 'validity 10 min',
    input: { to: '+15550000001', text: 'vp', validitySeconds: 600 },
    validity: '10M',
  },
  {
    name: 'validity 1 day',
    input: { to: '+15550000001', text: 'vp', validitySeconds: 86_400 },
    validity: '1440M',
  },
  { name: 'UCS2', input: { to: '+48600000000', text: 'Kod: 123456 — zażółć gęślą jaźń' } },
  { name: 'UCS2 flash', input: { to: '+48600000000', text: 'Ваш код 123456', flash: true } },
  {
    name: 'concatenated GSM',
    input: { to: '+15550000001', text: 'A'.repeat(150) + '€'.repeat(10) + 'B'.repeat(40), concatRef: 200 },
  },
  {
    name: 'concatenated UCS2 with emoji at the seam',
    input: { to: '+15550000001', text: `${'ż'.repeat(66)}😀${'ż'.repeat(70)}`, concatRef: 17 },
  },
  {
    name: 'UCS2 emoji at every seam of three parts',
    input: {
      to: '+15550000001',
      text: `${'ż'.repeat(66)}😀${'ż'.repeat(65)}😀😀${'ż'.repeat(30)}`,
      concatRef: 18,
    },
  },
  { name: 'three parts', input: { to: '+15550000001', text: 'x'.repeat(400), concatRef: 1 } },
  {
    name: 'three GSM parts with extension characters',
    input: { to: '+15550000001', text: `${'€'.repeat(80)}${'y'.repeat(250)}`, concatRef: 2 },
  },
];

// Mandatory, in CI too: the simulator decodes with our own codec, so only this check catches a
// symmetric encoder bug. A machine without python3-gammu fails here with the fix, never skips.
describe('python3-gammu decodes what encodeSubmit produced', () => {
  it('python3-gammu is installed (scripts/ensure-peers.sh gammu)', () => {
    expect(available, 'python3-gammu is missing: run scripts/ensure-peers.sh gammu').toBe(true);
  });

  it('agrees on number, text, coding, class, validity and concatenation for every case', () => {
    const flat = CASES.flatMap((c) => encodeSubmit(c.input).map((p, i, all) => ({ c, p, i, n: all.length })));
    const decoded = JSON.parse(
      execFileSync(PYTHON, ['-c', SCRIPT], {
        input: JSON.stringify(flat.map((f) => f.p.hex)),
        encoding: 'utf8',
      }),
    ) as GammuSms[];
    expect(decoded).toHaveLength(flat.length);
    const texts = new Map<string, string>();
    flat.forEach(({ c, i, n }, k) => {
      const g = decoded[k]!;
      expect(g.Type, c.name).toBe('Submit');
      expect(g.Number, c.name).toBe(c.input.to);
      expect(g.Coding, c.name).toBe(
        /^[\x20-\x7e\f@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà€]*$/.test(c.input.text)
          ? 'Default_No_Compression'
          : 'Unicode_No_Compression',
      );
      expect(g.Class, c.name).toBe(c.input.flash ? 0 : -1);
      if (c.validity) expect(g.Validity, c.name).toBe(c.validity);
      if (n > 1) {
        expect(g.UDH.Type, c.name).toBe('ConcatenatedMessages');
        expect(g.UDH.ID8bit, c.name).toBe(c.input.concatRef);
        expect(g.UDH.PartNumber, c.name).toBe(i + 1);
        expect(g.UDH.AllParts, c.name).toBe(n);
      } else expect(g.UDH.Type, c.name).toBe('NoUDH');
      texts.set(c.name, (texts.get(c.name) ?? '') + trimEscapeOverrun(g.Text, g.Length));
    });
    for (const c of CASES) expect(texts.get(c.name), c.name).toBe(c.input.text);
  });

  it("builds the same TPDU as gammu's own encoder for a message with extension characters", () => {
    // gammu.EncodeSMS + EncodePDU is a second, independent encoder; the first octet differs only in
    // TP-RD/TP-RP flags gammu sets, so compare from TP-DA on.
    const text = 'a€b {x}';
    const out = execFileSync(
      PYTHON,
      [
        '-c',
        `import gammu,sys
s = gammu.EncodeSMS({'Class': -1, 'Unicode': False, 'Entries': [{'ID': 'ConcatenatedTextLong', 'Buffer': sys.argv[1]}]})[0]
s['Number'] = '+15550000001'; s['SMSC'] = {'Location': 0, 'Number': ''}
print(gammu.EncodePDU(s).hex().upper())`,
        text,
      ],
      { encoding: 'utf8' },
    ).trim();
    const ours = encodeSubmit({ to: '+15550000001', text })[0]!.hex;
    // gammu writes its own SMSC field and first octet (TP-VPF relative, with a TP-VP octet after
    // the DCS); from TP-DA on, with that VP octet taken out, the two encoders must agree exactly.
    const da = '0B915155000000F1';
    const theirs = out.slice(out.indexOf(da));
    const theirFo = parseInt(out.slice(out.indexOf(da) - 4, out.indexOf(da) - 2), 16);
    expect(theirFo & 0x18).toBe(0x10);
    const mine = ours.slice(ours.indexOf(da));
    expect(mine).toBe(theirs.slice(0, da.length + 4) + theirs.slice(da.length + 6));
  });
});
