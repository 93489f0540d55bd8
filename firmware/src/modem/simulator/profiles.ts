/**
 * Simulator behaviour per modem family. These are behaviours (what the firmware of each stick
 * does on the wire), not the driver's vendor data in hardware/modems/*.json.
 */

export type Rat = 'gsm' | 'umts' | 'lte';

export interface TimedUrc {
  afterMs: number;
  /** "{cpin}" is replaced with the SIM state at that moment ("READY", "SIM PIN"). */
  line: string;
  /**
   * Sent only once the SIM is unlocked: `afterMs` after boot when it has no PIN, else `afterMs`
   * after the PIN is accepted (SIM800's "Call Ready"/"SMS Ready", Quectel's "SMS DONE").
   */
  afterSimReady?: boolean;
}

export interface SimProfile {
  name: string;
  description: string;
  manufacturer: string;
  model: string;
  revision: string;
  /** Lines of ATI. */
  ati: string[];
  gcap: string;
  /** Echo at power-on (V.250 default is on; many sticks ship with it on). */
  echoDefault: boolean;
  /** Firmware that keeps echoing whatever ATE0 says. */
  ignoresAte0: boolean;
  /** Final for an unknown command. */
  unknownFinal: string;
  /** Final when a command gets more arguments than it takes; undefined = plain ERROR. */
  tooManyParamsFinal?: string;
  rat: Rat;
  pduMode: boolean;
  textMode: boolean;
  /** Wavecom-like: +CPIN? answers the state without a final OK (Gammu F_CPIN_NO_OK). */
  cpinNoOk: boolean;
  /** Some firmware quote the state or omit the space: `+CPIN: "READY"`, `+CPIN:READY`. */
  cpinStyle: 'standard' | 'quoted' | 'nospace';
  /** Commands that read the ICCID, and the prefix of their answer ('' = the bare number). */
  ccid: Record<string, string>;
  /** Which tries-left queries the firmware knows (27.007 +CPINR is answered only if listed). */
  pinTries: Array<'+CPINR' | '^CPIN' | '+QPINC' | '+SPIC'>;
  bootUrcs: TimedUrc[];
  /** URCs repeated while idle until a vendor command turns them off (Huawei ^RSSI/^BOOT). */
  periodicUrcs?: { everyMs: number; lines: string[]; disabledBy: string };
  /** Some firmware write URCs while a reply is in progress: between its lines or inside a line. */
  urcInReply?: { mode: 'between' | 'mid-line'; line: string; everyNth: number };
  /** Qualcomm-based firmware advertises but rejects +CNMI <ds>=1 (ModemManager notes). */
  rejectsCnmiDs1: boolean;
  /** Registered on LTE but the network refuses SMS over SGs/IMS: +CMGS ends in this CMS error. */
  smsRefusedCode?: number;
  /** ZTE MF sticks stay offline (CD-ROM mode) until AT+ZCDRUN=8 / AT+ZOPRT=5. */
  requiresZteInit: boolean;
  /** After AT+CFUN=1,1 the stick re-enumerates as mass storage: the AT port never comes back (gammu#687). */
  resetDropsAtPort: boolean;
  /** ms from SIM ready to registration; "searching" (stat 2) until then. */
  registerAfterMs: number;
  /** Registration stats once registered, per 27.007 (1 home, 5 roaming, 6/7 SMS only, 0 not registered). */
  regStat: { creg: number; cgreg: number; cereg: number };
  /** +CME ERROR: 14 for SIM commands for this long after boot and after a PIN is accepted. */
  simBusyAfterBootMs: number;
  simBusyAfterPinMs: number;
  /** The SIM asks for a PIN even when the simulator options give none ("1234" then). */
  pinRequired: boolean;
  /** Reply to ESC at the `> ` prompt. */
  escReply: 'OK' | 'none';
  /** AT+CMMS=2 (keep the link open between parts); a Huawei E1752 answered +CMS ERROR: 500. */
  cmmsError?: number;
  operator: string;
  /** +CSQ rssi when registered. */
  rssi: number;
  /** Canned answers to vendor commands: upper-case command text → info lines (final OK). */
  vendor: Record<string, string[]>;
}

const GENERIC: SimProfile = {
  name: 'generic',
  description: '3GPP LTE Cat-4 module, standard AT (27.007/27.005), echo on at boot',
  manufacturer: 'MFA Box Sim',
  model: 'SIM-LTE4',
  revision: 'SIM-LTE4_1.0.0',
  ati: ['MFA Box Sim', 'SIM-LTE4', 'Revision: SIM-LTE4_1.0.0'],
  gcap: '+GCAP: +CGSM,+DS,+ES',
  echoDefault: true,
  ignoresAte0: false,
  unknownFinal: 'ERROR',
  rat: 'lte',
  pduMode: true,
  textMode: true,
  cpinNoOk: false,
  cpinStyle: 'standard',
  ccid: { '+CCID': '+CCID: ', '+ICCID': '+ICCID: ' },
  pinTries: ['+CPINR'],
  bootUrcs: [],
  rejectsCnmiDs1: false,
  requiresZteInit: false,
  resetDropsAtPort: false,
  registerAfterMs: 0,
  regStat: { creg: 1, cgreg: 1, cereg: 1 },
  simBusyAfterBootMs: 0,
  simBusyAfterPinMs: 300,
  pinRequired: false,
  escReply: 'OK',
  operator: 'MFA Sim',
  rssi: 22,
  vendor: {},
};

function derive(
  base: SimProfile,
  over: Partial<SimProfile> & { name: string; description: string },
): SimProfile {
  return { ...base, ...over };
}

const HUAWEI_E3372 = derive(GENERIC, {
  name: 'huawei-e3372',
  description:
    'Huawei E3372 with stick firmware: ^RSSI/^BOOT URCs (also mid-reply) until AT^CURC=0, COMMAND NOT SUPPORT',
  manufacturer: 'huawei',
  model: 'E3372',
  revision: '22.200.15.00.00',
  ati: [
    'Manufacturer: huawei',
    'Model: E3372',
    'Revision: 22.200.15.00.00',
    'IMEI: {imei}',
    '+GCAP: +CGSM,+DS,+ES',
  ],
  unknownFinal: 'COMMAND NOT SUPPORT',
  tooManyParamsFinal: 'TOO MANY PARAMETERS',
  ccid: { '^ICCID': '^ICCID: ', '+CCID': '+CCID: ' },
  pinTries: ['^CPIN', '+CPINR'],
  bootUrcs: [{ afterMs: 200, line: '^BOOT:20211,0,0,0,20' }],
  periodicUrcs: { everyMs: 1500, lines: ['^RSSI: 18', '^BOOT:20211,0,0,0,20'], disabledBy: '^CURC=0' },
  urcInReply: { mode: 'between', line: '^RSSI: 19', everyNth: 3 },
  simBusyAfterBootMs: 600,
  vendor: {
    '^CURC=0': [],
    '^CURC=1': [],
    '^PORTSEL=1': [],
    '^PORTSEL=0': [],
    '^SYSINFO': ['^SYSINFO: 2,3,0,9,1,,9'],
    '^HCSQ?': ['^HCSQ: "LTE",48,40,120,26'],
    '^SETPORT?': ['A1,A2;10,12,16,A2'],
  },
});

const HUAWEI_E173 = derive(HUAWEI_E3372, {
  name: 'huawei-e173',
  description: 'Huawei E173 3G stick: ^RSSI/^BOOT URCs, COMMAND NOT SUPPORT, UMTS only',
  model: 'E173',
  revision: '11.126.85.00.209',
  ati: [
    'Manufacturer: huawei',
    'Model: E173',
    'Revision: 11.126.85.00.209',
    'IMEI: {imei}',
    '+GCAP: +CGSM,+DS,+ES',
  ],
  rat: 'umts',
  regStat: { creg: 1, cgreg: 1, cereg: 0 },
  urcInReply: { mode: 'mid-line', line: '^RSSI: 14', everyNth: 4 },
  cmmsError: 500,
  rssi: 14,
});

const HUAWEI_E173_MODESWITCH = derive(HUAWEI_E173, {
  name: 'huawei-e173-modeswitch',
  description:
    'Huawei E173 whose AT+CFUN=1,1 drops it into mass-storage mode: the AT port never returns (gammu#687)',
  resetDropsAtPort: true,
});

const SIM800 = derive(GENERIC, {
  name: 'sim800',
  description: 'SIMCom SIM800 2G module: echo on, RDY/+CFUN: 1/+CPIN/Call Ready/SMS Ready boot URCs',
  manufacturer: 'SIMCOM_Ltd',
  model: 'SIMCOM_SIM800',
  revision: 'Revision:1418B04SIM800C24',
  ati: ['SIM800 R14.18'],
  gcap: '+GCAP: +CGSM',
  rat: 'gsm',
  ccid: { '+CCID': '' },
  pinTries: ['+SPIC'],
  bootUrcs: [
    { afterMs: 100, line: 'RDY' },
    { afterMs: 150, line: '+CFUN: 1' },
    { afterMs: 250, line: '+CPIN: {cpin}' },
    { afterMs: 900, line: 'Call Ready', afterSimReady: true },
    { afterMs: 1000, line: 'SMS Ready', afterSimReady: true },
  ],
  regStat: { creg: 1, cgreg: 1, cereg: 0 },
  simBusyAfterBootMs: 800,
  rssi: 18,
  vendor: { '+CIURC=0': [], '+CIURC=1': [], '+CSCLK=0': [] },
});

const WAVECOM = derive(SIM800, {
  name: 'wavecom',
  description:
    'Wavecom-like GSM modem: +CPIN? without a final OK (Gammu F_CPIN_NO_OK), +CPIN without a space',
  manufacturer: 'WAVECOM MODEM',
  model: 'MULTIBAND  900E  1800',
  revision: '641b09gg.Q2406B 1266500 091003 17:06',
  ati: ['WAVECOM MODEM'],
  bootUrcs: [],
  pinTries: [],
  ccid: { '+CCID': '+CCID: ' },
  cpinNoOk: true,
  cpinStyle: 'nospace',
  vendor: { '+WIND=0': [] },
});

const SIM7600 = derive(GENERIC, {
  name: 'sim7600',
  description: 'SIMCom SIM7600 LTE module: PB DONE/SMS DONE boot URCs, +CPIN: READY URC',
  manufacturer: 'SIMCOM INCORPORATED',
  model: 'SIMCOM_SIM7600G-H',
  revision: 'LE20B04SIM7600G22',
  ati: [
    'Manufacturer: SIMCOM INCORPORATED',
    'Model: SIMCOM_SIM7600G-H',
    'Revision: LE20B04SIM7600G22',
    'IMEI: {imei}',
    '+GCAP: +CGSM',
  ],
  ccid: { '+CICCID': '+ICCID: ', '+CCID': '+CCID: ' },
  pinTries: ['+SPIC', '+CPINR'],
  bootUrcs: [
    { afterMs: 200, line: 'RDY' },
    { afterMs: 300, line: '+CPIN: {cpin}' },
    { afterMs: 700, line: 'SMS DONE', afterSimReady: true },
    { afterMs: 800, line: 'PB DONE', afterSimReady: true },
  ],
  simBusyAfterBootMs: 700,
  vendor: {
    '+CNMP?': ['+CNMP: 2'],
    '+CNSMOD?': ['+CNSMOD: 0,8'],
    '+CNMP=2': [],
    '+CNMP=13': [],
    '+CNMP=14': [],
  },
});

const SIM7600_LTE_NO_SMS = derive(SIM7600, {
  name: 'sim7600-lte-no-sms',
  description:
    'SIM7600 registered on LTE (+CEREG 1, +CREG 0) where the network refuses SMS: +CMGS → +CMS ERROR: 500',
  regStat: { creg: 0, cgreg: 1, cereg: 1 },
  smsRefusedCode: 500,
});

const QUECTEL_EC25 = derive(GENERIC, {
  name: 'quectel-ec25',
  description: 'Quectel EC25 LTE Cat-4: RDY, +CPIN, +QUSIM: 1, +QIND: SMS DONE boot URCs; +QPINC, +QCCID',
  manufacturer: 'Quectel',
  model: 'EC25',
  revision: 'EC25EFAR06A06M4G',
  ati: ['Quectel', 'EC25', 'Revision: EC25EFAR06A06M4G'],
  ccid: { '+QCCID': '+QCCID: ', '+CCID': '+CCID: ' },
  pinTries: ['+QPINC', '+CPINR'],
  bootUrcs: [
    { afterMs: 150, line: 'RDY' },
    { afterMs: 300, line: '+CPIN: {cpin}' },
    { afterMs: 400, line: '+QUSIM: 1' },
    { afterMs: 500, line: '+QIND: PB DONE', afterSimReady: true },
    { afterMs: 600, line: '+QIND: SMS DONE', afterSimReady: true },
  ],
  simBusyAfterBootMs: 500,
  vendor: {
    '+QURCCFG="URCPORT","USBAT"': [],
    '+QURCCFG="URCPORT"': ['+QURCCFG: "urcport","usbat"'],
    '+QURCCFG?': ['+QURCCFG: "urcport","usbat"'],
    '+QINDCFG="ALL",0': [],
    '+QCFG="NWSCANMODE"': ['+QCFG: "nwscanmode",0'],
  },
});

const ZTE_MF = derive(GENERIC, {
  name: 'zte-mf',
  description:
    'ZTE MF stick: offline (CD-ROM mode) until AT+ZCDRUN=8 and AT+ZOPRT=5; keeps echoing after ATE0',
  manufacturer: 'ZTE CORPORATION',
  model: 'MF190',
  revision: 'BD_MF190V1.0.0B03',
  ati: ['Manufacturer: ZTE CORPORATION', 'Model: MF190', 'Revision: BD_MF190V1.0.0B03', 'IMEI: {imei}'],
  rat: 'umts',
  regStat: { creg: 1, cgreg: 1, cereg: 0 },
  ccid: { '+ZGETICCID': '+ZGETICCID: ', '+CCID': '+CCID: ' },
  requiresZteInit: true,
  ignoresAte0: true,
  vendor: {},
});

const CDMA_TEXT = derive(GENERIC, {
  name: 'cdma-text',
  description:
    'CDMA (IS-707) handset: text mode only, +GCAP: +CIS707-A, AT+CMGF=0 → ERROR (unverified: most CDMA networks are shut down)',
  manufacturer: 'MFA Box Sim',
  model: 'SIM-CDMA',
  revision: 'CDMA_1.0',
  ati: ['MFA Box Sim', 'SIM-CDMA', 'Revision: CDMA_1.0'],
  gcap: '+GCAP: +CIS707-A, +MS, +ES, +DS, +FCLASS',
  rat: 'umts',
  pduMode: false,
  regStat: { creg: 1, cgreg: 0, cereg: 0 },
  ccid: {},
  pinTries: [],
});

const QUALCOMM_LIKE = derive(GENERIC, {
  name: 'qualcomm-like',
  description: 'Qualcomm-based module: advertises +CNMI ds=1 but rejects it with +CMS ERROR: 303',
  manufacturer: 'QUALCOMM INCORPORATED',
  model: 'QC-LTE',
  revision: 'QC_1.0',
  ati: ['Manufacturer: QUALCOMM INCORPORATED', 'Model: QC-LTE', 'Revision: QC_1.0'],
  rejectsCnmiDs1: true,
  simBusyAfterPinMs: 2000,
});

const SLOW_REGISTRATION = derive(GENERIC, {
  name: 'slow-registration',
  description: 'generic module that searches (+CREG stat 2) for 3 s after the SIM is ready',
  registerAfterMs: 3000,
});

const PIN_REQUIRED = derive(GENERIC, {
  name: 'pin-required',
  description: 'generic module whose SIM needs PIN 1234 (3 tries, then PUK 12345678)',
  pinRequired: true,
});

const ROAMING_SMS_ONLY = derive(GENERIC, {
  name: 'roaming-sms-only',
  description: 'LTE module registered roaming, "SMS only" (+CEREG stat 7, +CREG stat 5)',
  regStat: { creg: 5, cgreg: 5, cereg: 7 },
});

export const PROFILES: ReadonlyMap<string, SimProfile> = new Map(
  [
    GENERIC,
    HUAWEI_E3372,
    HUAWEI_E173,
    HUAWEI_E173_MODESWITCH,
    SIM800,
    WAVECOM,
    SIM7600,
    SIM7600_LTE_NO_SMS,
    QUECTEL_EC25,
    ZTE_MF,
    CDMA_TEXT,
    QUALCOMM_LIKE,
    SLOW_REGISTRATION,
    PIN_REQUIRED,
    ROAMING_SMS_ONLY,
  ].map((p) => [p.name, p]),
);

export function profileNames(): string[] {
  return [...PROFILES.keys()];
}
