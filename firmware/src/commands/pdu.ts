/** `mfabox pdu encode`: prints the SMS-SUBMIT PDUs the box would hand to AT+CMGS. */
import { ErrorCode, MfaError } from '../errors.ts';
import { encodeSubmit } from '../modem/pdu/index.ts';
import { parseFlags, type Command } from './command.ts';

export const pduEncodeCommand: Command = {
  name: 'pdu encode',
  usage: 'pdu encode --to N [--flash] [--report] [--validity SECONDS] TEXT',
  summary: 'Print one "<tpdu-length> <hex>" line per SMS part (hex includes the 00 SMSC octet)',
  run(args) {
    // A Promise executor turns a synchronous throw into the rejection callers expect.
    return new Promise<number>((resolve) => resolve(encode(args)));
  },
};

function encode(args: string[]): number {
  const { flags, positional } = parseFlags(args, ['flash', 'report']);
  const to = flags.get('to');
  if (typeof to !== 'string' || to === '' || positional.length === 0)
    throw new MfaError(`usage: mfabox ${pduEncodeCommand.usage}`, ErrorCode.CliUsage);
  const validity = flags.get('validity');
  let validitySeconds: number | undefined;
  if (validity !== undefined) {
    validitySeconds = Number(validity);
    if (validity === true || !Number.isFinite(validitySeconds) || validitySeconds < 0)
      throw new MfaError('--validity takes a number of seconds', ErrorCode.CliUsage, { field: 'validity' });
  }
  const parts = encodeSubmit({
    to,
    text: positional.join(' '),
    flash: flags.get('flash') === true,
    statusReport: flags.get('report') === true,
    ...(validitySeconds !== undefined ? { validitySeconds } : {}),
  });
  for (const p of parts) console.log(`${p.tpduLength} ${p.hex}`);
  return 0;
}
