/** `mfabox pdu encode`: prints the SMS-SUBMIT PDUs the box would hand to AT+CMGS. */
import { encodeSubmit } from '../modem/pdu/index.ts';
import { defineCommand } from './command.ts';

export const pduEncodeCommand = defineCommand({
  name: 'pdu encode',
  summary: 'Print one "<tpdu-length> <hex>" line per SMS part (hex includes the 00 SMSC octet)',
  options: {
    to: { type: 'string', value: 'NUMBER', required: true, help: 'the destination number' },
    flash: { type: 'boolean', help: 'flash SMS (class 0)' },
    report: { type: 'boolean', help: 'request a status report' },
    validity: {
      type: 'integer',
      value: 'SECONDS',
      min: 0,
      max: 63 * 7 * 24 * 3600,
      help: 'validity period the network keeps an undelivered SMS',
    },
  },
  args: { value: 'TEXT', required: true, help: 'the message; several words are joined with spaces' },
  run({ values, args }) {
    const parts = encodeSubmit({
      to: values.to,
      text: args.join(' '),
      flash: values.flash,
      statusReport: values.report,
      ...(values.validity !== undefined ? { validitySeconds: values.validity } : {}),
    });
    for (const p of parts) console.log(`${p.tpduLength} ${p.hex}`);
    return 0;
  },
});
