/** How many SMS parts a text takes: GSM 7-bit (160, or 153 per part) or UCS-2 (70, or 67). */
const GSM =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT = '^{}\\[~]|€\f';

export function smsParts(text: string): { encoding: 'GSM 7-bit' | 'UCS-2'; units: number; parts: number } {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM.includes(ch)) septets += 1;
    else if (GSM_EXT.includes(ch)) septets += 2;
    else gsm = false;
  }
  if (gsm)
    return { encoding: 'GSM 7-bit', units: septets, parts: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  const units = [...text].reduce((n, ch) => n + (ch.codePointAt(0)! > 0xffff ? 2 : 1), 0);
  return { encoding: 'UCS-2', units, parts: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** The page's short NetScaler block; its timeout, retries and binding match README's NetScaler recipe. */
export function netscalerCli(c: { name: string; secret?: unknown }, box: string, port: number): string {
  const n = c.name.replace(/[^A-Za-z0-9_-]/g, '_');
  return [
    `add authentication radiusAction mfabox_${n} -serverIP ${box} -serverPort ${port} -radKey <the shared secret> -authTimeout 5 -authservRetry 3 -messageAuthenticator ON -callingStationId ENABLED`,
    `add lb monitor mfabox_${n}_mon RADIUS -respCode 3 -userName mfabox-monitor -password <monitor password> -radKey <the shared secret>`,
    `add authentication Policy mfabox_${n}_pol -rule true -action mfabox_${n}`,
    `bind vpn vserver <your gateway vserver> -policy mfabox_${n}_pol -priority 100`,
    'save ns config',
  ].join('\n');
}
