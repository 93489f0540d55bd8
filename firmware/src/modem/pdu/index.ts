/** SMS PDU codec: GSM 7-bit and UCS2 text, SMS-SUBMIT with concatenation, status reports. Pure. */
export { encodeSubmit, decodeSubmit, defaultConcatRef } from './submit.ts';
export type { SubmitInput, PduPart, DecodedSubmit } from './submit.ts';
export { planText, segmentText, MAX_PARTS } from './plan.ts';
export type { TextEncoding, TextPlan } from './plan.ts';
export { encodeStatusReport, decodeStatusReport, statusOutcome } from './status-report.ts';
export type { StatusReportInput, DecodedStatusReport, DeliveryOutcome } from './status-report.ts';
export { secondsToVp, vpToSeconds } from './validity.ts';
export { encodeAddress, parseNumber, TOA_INTERNATIONAL, TOA_UNKNOWN } from './address.ts';
export {
  gsm7Encode,
  gsm7Decode,
  isGsm7,
  packSeptets,
  unpackSeptets,
  GSM7_BASIC_CHARS,
  GSM7_EXTENSION_CHARS,
} from './gsm7.ts';
export { encodeDcs, decodeDcs } from './dcs.ts';
export type { Alphabet, DcsInfo } from './dcs.ts';
export { encodeTextModeBody, decodeTextModeBody, textModeMessage, ucs2Hex } from './text-mode.ts';
export type { TextModeBody, TextModeCharset, TextModeMessage } from './text-mode.ts';
export { toHex, fromHex } from './bytes.ts';
