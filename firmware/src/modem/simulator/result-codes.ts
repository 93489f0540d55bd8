/** Final result codes as a modem writes them (V.250 verbose/numeric, 27.007 +CMEE, 27.005 +CMS). */
export type Final =
  | { kind: 'ok' }
  | { kind: 'error' }
  | { kind: 'cme'; code: number }
  | { kind: 'cms'; code: number }
  /** A vendor final such as "COMMAND NOT SUPPORT" or "NO CARRIER". */
  | { kind: 'text'; text: string }
  /** No final at all (Wavecom's +CPIN?). */
  | { kind: 'none' };

const CME_TEXT: Record<number, string> = {
  3: 'operation not allowed',
  4: 'operation not supported',
  10: 'SIM not inserted',
  11: 'SIM PIN required',
  12: 'SIM PUK required',
  13: 'SIM failure',
  14: 'SIM busy',
  16: 'incorrect password',
  30: 'no network service',
  100: 'unknown',
};

const CMS_TEXT: Record<number, string> = {
  38: 'Network out of order',
  41: 'Temporary failure',
  42: 'Congestion',
  47: 'Resources unavailable, unspecified',
  111: 'Protocol error, unspecified',
  300: 'ME failure',
  302: 'operation not allowed',
  303: 'operation not supported',
  304: 'invalid PDU mode parameter',
  305: 'invalid text mode parameter',
  310: 'SIM not inserted',
  311: 'SIM PIN required',
  313: 'SIM failure',
  314: 'SIM busy',
  316: 'SIM PUK required',
  321: 'invalid memory index',
  330: 'SMSC address unknown',
  331: 'no network service',
  340: 'no +CNMA acknowledgement expected',
  500: 'unknown error',
};

/**
 * `verbose` is ATV1 (words wrapped in CR LF) versus ATV0 (digits and CR). +CME errors follow
 * +CMEE (0: plain ERROR, 1: numbers, 2: words); +CMS errors are always reported, as words with
 * +CMEE=2 as most firmware does.
 */
export function formatFinal(f: Final, verbose: boolean, cmee: number): string {
  const wrap = (s: string, code: number): string => (verbose ? `\r\n${s}\r\n` : `${code}\r`);
  switch (f.kind) {
    case 'ok':
      return wrap('OK', 0);
    case 'error':
      return wrap('ERROR', 4);
    case 'none':
      return '';
    case 'text':
      return wrap(f.text, 4);
    case 'cme':
      if (cmee === 0) return wrap('ERROR', 4);
      return wrap(`+CME ERROR: ${cmee === 2 ? (CME_TEXT[f.code] ?? 'unknown') : f.code}`, 4);
    case 'cms':
      return wrap(`+CMS ERROR: ${cmee === 2 ? (CMS_TEXT[f.code] ?? 'unknown error') : f.code}`, 4);
  }
}
