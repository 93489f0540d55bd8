/**
 * What of modem traffic may reach a log, pure. The serial line carries secrets: the SIM PIN in
 * `AT+CPIN="1234"` (and PIN2/PUK/facility passwords in +CPIN2, +CLCK, +CPWD), and the passcode in
 * every SMS-SUBMIT PDU (hex) or text-mode body. A late echo after a timeout or a drain can bring any
 * of them back as a "stray" line, so stray text is logged as a shape, never as its characters.
 */

/** Commands whose arguments are secrets (PINs, PUKs, facility passwords), vendor forms included. */
const SECRET_VERB = /^AT[+^$%]?(CPIN2?|CPINR?|CLCK|CPWD|CPUK|EPIN\w*|QPIN\w*|SPIC|CRSM|CSIM)\b/i;

/**
 * `AT+CPIN="1234"` → `AT+CPIN=[redacted]`; a text-mode `AT+CMGS="+15550001234",145` loses its
 * number (personal data, kept out of logs like the outbox's masked numbers); other commands (and
 * `AT+CPIN?`) unchanged.
 */
export function redactCommand(command: string): string {
  if (SECRET_VERB.test(command)) return command.replace(/=.*$/s, '=[redacted]');
  return command.replace(/^(AT\+CMG[SW]=)"[^"]*"/i, '$1"[number]"');
}

export interface StrayShape {
  /**
   * hex: a PDU or other long hex (may encode a passcode); echo: a command echoed late;
   * reply: an information line such as `+CSQ: …`; text: anything else (may be an SMS body).
   */
  kind: 'hex' | 'echo' | 'reply' | 'text';
  len: number;
  /** The command verb (`AT+CMGS`) or reply prefix (`+CSQ`), only where it cannot hold a secret. */
  prefix?: string;
}

/** The loggable shape of a line that arrived with nothing waiting for it. */
export function strayShape(line: string): StrayShape {
  const len = line.length;
  if (/^[0-9A-F]{8,}$/i.test(line)) return { kind: 'hex', len };
  const echo = /^AT[+^$%&]?[A-Z]*/i.exec(line);
  if (echo) {
    // The verb alone: arguments may be a PIN (+CPIN), a number, or hex.
    return SECRET_VERB.test(line) ? { kind: 'echo', len } : { kind: 'echo', len, prefix: echo[0] };
  }
  const reply = /^([+^$%][A-Z][A-Z0-9]{0,15}):/i.exec(line);
  if (reply?.[1]) return { kind: 'reply', len, prefix: reply[1] };
  return { kind: 'text', len };
}
