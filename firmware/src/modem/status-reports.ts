/**
 * SMS status reports (+CDS routed to us, or +CDSI stored on the modem): decoded into one event
 * shape, whichever way and in whichever mode (PDU or text) they came.
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { parseTextCds } from './at/replies.ts';
import type { AtCommands } from './channel.ts';
import { decodeStatusReport, type DeliveryOutcome } from './pdu/index.ts';

/** The 'status-report' event of a modem and of the pool. */
export interface StatusReportEvent {
  modem: string;
  messageReference: number;
  delivered: boolean;
  outcome: DeliveryOutcome;
}

/** The report in a +CDS (text-mode fields, or a PDU with its SMSC), or undefined when undecodable. */
export function statusReportEvent(modem: string, data: string, log: Logger): StatusReportEvent | undefined {
  try {
    const r = parseTextCds(data) ?? decodeStatusReport(data, { hasSmsc: true });
    return {
      modem,
      messageReference: r.messageReference,
      delivered: r.outcome === 'delivered',
      outcome: r.outcome,
    };
  } catch (e) {
    log.warn({ err: describeError(e) }, 'undecodable status report');
    return undefined;
  }
}

/**
 * ds=2 (Qualcomm): the report was stored. Reads it, then deletes it so storage never fills. A
 * report is a nicety: nothing here ever disturbs sending.
 */
export async function readStoredReport(
  at: AtCommands,
  index: number,
  onReport: (pdu: string) => void,
): Promise<void> {
  try {
    const r = await at.exec(`AT+CMGR=${index}`);
    const pdu = r.final.ok ? r.lines.find((l: string) => /^[0-9A-F]{20,}$/i.test(l)) : undefined;
    if (pdu) onReport(pdu);
    await at.exec(`AT+CMGD=${index}`);
  } catch {
    /* see above */
  }
}
