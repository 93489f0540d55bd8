/**
 * The configuration schema. Every field documents its unit, range and default. A config is
 * validated as a whole; a bad one is refused with the path of the failing field, and the
 * running config is never half-applied.
 */
import { z } from 'zod';
import { auditSchema, syslogTargetSchema } from './audit-schema.ts';
import { isIP } from 'node:net';
import { parseCidr } from '../net/cidr.ts';
import { adaptiveSchema, limitsSchema, lockoutSchema, methodsSchema } from './auth-schema.ts';
import { MIN_SECRET_CHARS } from './defaults.ts';

const port = z.number().int().min(0).max(65535);
const secret = z.string().min(1);

export const radiusClientSchema = z
  .object({
    /** Shown in logs, counters and health; unique. */
    name: z.string().min(1),
    /** Source IP or CIDR (IPv4 or IPv6); the most specific entry wins. NetScaler: its SNIP or NSIP (both NSIPs of an HA pair). */
    address: z
      .string()
      .min(1)
      .refine(
        (s) => parseCidr(s) !== undefined,
        'an IPv4/IPv6 address or CIDR, e.g. 10.0.0.5 or 10.0.0.0/24',
      ),
    /**
     * Shared secret, at least 16 characters (RFC 2865 §3 asks for 16 octets; the MD5 hiding of
     * User-Password falls to an offline guess of a short one). Up to 64 on NetScaler.
     */
    secret,
    /** true: accept a secret under 16 characters (a lab NAS that cannot do better); health then warns. Default false. */
    allowWeakSecret: z.boolean().optional(),
    /** yes | auto | no, default auto: auto becomes yes (persisted) once the client sends a valid Message-Authenticator. */
    requireMessageAuthenticator: z.enum(['yes', 'auto', 'no']).default('auto'),
    /** directory (default): check the AD password; none: NetScaler checked it, the box is the second factor only. */
    passwordCheck: z.enum(['directory', 'none']).default('directory'),
    /** A user name whose requests are answered as a health monitor (no bind, no SMS, no lockout); never Access-Accept (firmware/src/radius/README.md). */
    monitorUser: z.string().min(1).optional(),
    /** Password the monitor user must send (required with monitorUser), at least 16 characters. */
    monitorPassword: z.string().min(16, 'the monitor password must be at least 16 characters').optional(),
    /** Attributes added to Access-Accept, e.g. [["Class","vpn"],["Session-Timeout",28800]]; octets as text or 0x-hex; "26:<vendor>:<type>" for a vendor attribute. */
    acceptAttributes: z.array(z.tuple([z.string(), z.union([z.string(), z.number()])])).default([]),
  })
  .refine((c) => c.monitorUser === undefined || c.monitorPassword !== undefined, {
    message: 'a monitor user needs a monitor password',
    path: ['monitorPassword'],
  })
  .refine((c) => c.allowWeakSecret === true || c.secret.length >= MIN_SECRET_CHARS, {
    message: `the shared secret must be at least ${MIN_SECRET_CHARS} characters (or set allowWeakSecret: true for a lab NAS; health then warns)`,
    path: ['secret'],
  });

const listenSchema = z.object({
  address: z.string().refine((s) => isIP(s) !== 0, 'an IPv4 or IPv6 address'),
  port,
});

export const radiusSchema = z
  .object({
    /** Addresses to listen on for authentication; default 0.0.0.0 on 1812. Add {"address":"::","port":1812} for IPv6. */
    listen: z
      .array(listenSchema)
      .min(1)
      .default([{ address: '0.0.0.0', port: 1812 }]),
    /** Accounting port on the same addresses (answered with Accounting-Response); 0 disables. Default 1813. */
    accountingPort: port.default(1813),
    clients: z.array(radiusClientSchema).default([]),
    /** [5...120] s, default 30: completed replies are replayed to retransmits this long (RFC 5080). */
    duplicateCacheSeconds: z.number().int().min(5).max(120).default(30),
    /** [1000...1000000] entries, default 65536: the reply cache's cap (oldest dropped first). */
    duplicateCacheEntries: z.number().int().min(1000).max(1_000_000).default(65_536),
    /** [1...64] MiB, default 16: the reply cache's cap in bytes, so large replies (Proxy-State) cannot exhaust the 96 MB heap. */
    duplicateCacheMegabytes: z.number().int().min(1).max(64).default(16),
    /** [16...100000], default 2048: requests waiting for the auth engine; more are dropped and counted. */
    maxPendingRequests: z.number().int().min(16).max(100_000).default(2048),
    /** [1...120] s, default 30: a request the engine has not answered by then is dropped (the NAS retries). */
    handlerTimeoutSeconds: z.number().int().min(1).max(120).default(30),
  })
  .superRefine((r, ctx) => {
    const seen = new Map<string, number>();
    r.clients.forEach((c, i) => {
      if (seen.has(c.name))
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'name'],
          message: `"${c.name}" is already used by clients[${seen.get(c.name)}]`,
        });
      else seen.set(c.name, i);
    });
  });

export const passcodeSchema = z
  .object({
    /** [6...10] digits, default 6; 4 or 5 only with allowShortPasscode. */
    length: z.number().int().min(4).max(10).default(6),
    /** true: allow a 4- or 5-digit passcode (10 000 or 100 000 codes: one guess in maxAttempts may hit). Default false. */
    allowShortPasscode: z.boolean().optional(),
    /** [60...1800] s, default 300: how long a passcode is valid. */
    ttlSeconds: z.number().int().min(60).max(1800).default(300),
    /** [1...5], default 3: wrong tries before the State is dead. */
    maxAttempts: z.number().int().min(1).max(5).default(3),
    /** Reply-Message on the challenge; {masked} is the masked number. */
    prompt: z.string().min(1).max(200).default('Enter the PASSCODE sent to {masked}'),
    /** The SMS text; {code} is the passcode (required), {minutes} its life. */
    smsTemplate: z
      .string()
      .min(1)
      .max(300)
      .refine((t) => t.includes('{code}'), 'the SMS text must contain {code}')
      .default('Your MFA Box passcode is {code}. It expires in {minutes} min.'),
    /** Send as class 0 (flash) SMS. Default false. */
    flash: z.boolean().default(false),
    /** Ask the network for a delivery report on each passcode SMS; the audit records delivery. Default true. */
    statusReport: z.boolean().default(true),
    /** [1...100], default 5: new passcodes (SMS) one user may trigger per window; re-logins reusing a pending code are free. */
    maxNewPerUser: z.number().int().min(1).max(100).default(5),
    /** [1...1440] min, default 15: the window for maxNewPerUser. */
    newPerUserWindowMinutes: z.number().int().min(1).max(1440).default(15),
  })
  .refine((p) => p.length >= 6 || p.allowShortPasscode === true, {
    message: 'a passcode needs 6–10 digits (4 or 5 only with allowShortPasscode: true)',
    path: ['length'],
  });

/** Where the NAS can pick AD groups out of an Access-Accept (NetScaler "RADIUS group extraction"). */
export const groupAttributeSchema = z.object({
  /** vendor: one or more Vendor-Specific attributes holding prefix + groups; off: none. Default vendor. */
  mode: z.enum(['vendor', 'off']).default('vendor'),
  /** [1...16777215], default 66 (Citrix): NetScaler radiusAction -radVendorID. */
  vendorId: z.number().int().min(1).max(0xffffff).default(66),
  /** [1...255], default 16 (Citrix-User-Groups): NetScaler -radAttributeType. */
  attributeType: z.number().int().min(1).max(255).default(16),
  /** Text before the list, default "CTXSUserGroups=": NetScaler -radGroupsPrefix. */
  prefix: z.string().max(64).default('CTXSUserGroups='),
  /** Between group names, default ";": NetScaler -radGroupSeparator. */
  separator: z.string().min(1).max(8).default(';'),
  /** Only these groups are sent (case-insensitive); empty (default) sends every group the user is in. */
  include: z.array(z.string().min(1)).default([]),
});

const cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, 'an IPv4/IPv6 address or CIDR, e.g. 10.0.0.0/8');

export const policySchema = z.object({
  /** End-user networks (CIDR, matched against Calling-Station-Id) that skip the passcode. Default none. */
  trustedNetworks: z.array(cidr).default([]),
  /** Members of this AD group use MFA; "" means every user. Default "MFA Users". */
  mfaGroup: z.string().default('MFA Users'),
  /** Reject users outside mfaGroup (true, default) or let them in on the password alone (false). */
  rejectOutsideGroup: z.boolean().default(true),
  /** Reject users with no usable mobile number (true, default) or let them in on the password alone. */
  rejectWithoutNumber: z.boolean().default(true),
  /** Members of these groups skip the passcode (break-glass, service accounts). Default none. */
  exemptGroups: z.array(z.string().min(1)).default([]),
  groupAttribute: groupAttributeSchema.default(groupAttributeSchema.parse({})),
  ...adaptiveSchema.shape,
});

export const modemSchema = z.object({
  name: z.string().min(1),
  /** Serial device; prefer /dev/serial/by-id/... so the name survives re-enumeration. */
  path: z.string().min(1),
  /** Baud rate, default 115200. */
  baudRate: z.number().int().positive().default(115200),
  /** Hardware flow control (RTS/CTS). Default false. */
  rtscts: z.boolean().default(false),
  /** SIM PIN, if the SIM has one. Entered once; never retried after a rejection. */
  pin: z
    .string()
    .regex(/^\d{4,8}$/, 'a SIM PIN is 4–8 digits')
    .optional(),
  /** Vendor profile name from hardware/modems/, or "auto" to pick by ATI/+CGMM. */
  profile: z.string().default('auto'),
  /** [1...60] SMS per minute per SIM, default 10, so the operator does not block the SIM. */
  maxPerMinute: z.number().int().min(1).max(60).default(10),
});

/** An LDAP attribute name or OID, so a config value can never smuggle filter syntax in. */
const ldapAttribute = z
  .string()
  .regex(
    /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/,
    'an LDAP attribute name (letters, digits, -) or an OID',
  );

/** Attribute names; each defaults per dialect (ad | openldap). */
export const directoryAttributesSchema = z.object({
  /** Login name: sAMAccountName | uid. */
  login: ldapAttribute.optional(),
  /** Second login form for `user@domain`: userPrincipalName | mail. */
  altLogin: ldapAttribute.optional(),
  /** Primary SMS number: mobile | mobile. */
  mobile: ldapAttribute.optional(),
  /** Secondary number: otherMobile | telephoneNumber. Set to "" to ignore secondary numbers. */
  secondaryMobile: z.union([ldapAttribute, z.literal('')]).optional(),
  /** displayName | cn. */
  displayName: ldapAttribute.optional(),
  /** Email address for the email method (methods.email): mail | mail. Set to "" not to read addresses. */
  email: z.union([ldapAttribute, z.literal('')]).optional(),
  /** Group membership: memberOf (OpenLDAP: the memberof overlay's operational attribute). */
  memberOf: ldapAttribute.optional(),
});

export const ldapDirectorySchema = z
  .object({
    kind: z.literal('ldap'),
    /** ad (Active Directory, Samba AD) | openldap. Default ad. */
    dialect: z.enum(['ad', 'openldap']).default('ad'),
    /**
     * ldaps://dc1.corp.example:636 or ldap://dc1.corp.example:389 (StartTLS); tried in order, failing
     * over. May be empty when srvDomain is set. Default [].
     */
    urls: z
      .array(
        z.string().regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'an ldap:// or ldaps:// URL (host and port only)'),
      )
      .default([]),
    /** AD DNS domain: DCs are also discovered from _ldap._tcp.dc._msdcs.<srvDomain> (after urls). */
    srvDomain: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'a DNS domain name')
      .optional(),
    /**
     * Domain names a login may carry besides the base DN's DNS domain and srvDomain (and their
     * first labels, the default NetBIOS names): a NetBIOS name that differs (CORPHQ\alice), or a
     * UPN suffix whose user part is the sAMAccountName. A login naming any other domain matches a
     * user only by its whole UPN. Default [].
     */
    loginDomains: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a DNS or NetBIOS domain name')).default([]),
    /** Discovered DCs are used as ldaps://host:636 (true, default) or ldap://host:port + StartTLS (false). */
    srvUseLdaps: z.boolean().default(true),
    /** Upgrade ldap:// URLs with StartTLS. Default true. */
    startTls: z.boolean().default(true),
    /** Allow a plain unencrypted bind on ldap:// without StartTLS (passwords cross the wire in clear; logged as a warning). Default false. */
    allowInsecure: z.boolean().default(false),
    /** PEM CA bundle that signs the DCs' certificates; when set, only these CAs are trusted (pinned). Default: the system CAs. */
    caFile: z.string().min(1).optional(),
    /** Name to check the DC certificate against when the URLs use IP addresses. Default: the URL's host. */
    tlsServerName: z.string().min(1).optional(),
    /** Where users and the group are searched (subtree), e.g. DC=corp,DC=example. */
    baseDn: z.string().min(1),
    /** Service account: a DN, or for AD a UPN (svc-mfabox@corp.example). Needs read access only. */
    bindDn: z.string().min(1),
    bindPassword: secret,
    /** Extra filter ANDed to every user search. Default ad: (&(objectCategory=person)(objectClass=user)), openldap: (objectClass=inetOrgPerson). */
    userFilter: z.string().min(1).optional(),
    attributes: directoryAttributesSchema.default({}),
    /** Group whose members use MFA: a CN ("MFA Users", default) or a full DN. AD counts nested members. */
    group: z.string().min(1).default('MFA Users'),
    /** [10...1000] entries per page in a sync; AD caps pages at 1000 (MaxPageSize). Default 500. */
    pageSize: z.number().int().min(10).max(1000).default(500),
    /** [500...10000] ms, default 2500: one deadline for the whole directory part of a login (NetScaler's RADIUS timeout is 3 s). */
    timeoutMs: z.number().int().min(500).max(10000).default(2500),
    /** [5...600] s, default 30: keep-alive of the service connection and re-probe of DCs marked down. */
    probeIntervalSeconds: z.number().int().min(5).max(600).default(30),
    /** [1...64] per DC, default 8: pooled connections for the users' password binds (each one TLS handshake, then reused). */
    bindConnections: z.number().int().min(1).max(64).default(8),
    /** [0...1440] min, default 15: group sync schedule; 0 = only on demand. */
    syncIntervalMinutes: z.number().int().min(0).max(1440).default(15),
    /** [0...100] %, default 10: a sync that would remove more users than this stops and asks for confirmation. */
    maxRemovalPercent: z.number().min(0).max(100).default(10),
    /**
     * true | false, default true: accept numbers of a plausible length for their country even when
     * they are not in libphonenumber's numbering plan. The plan ships with the firmware, and a box
     * that runs for years would otherwise skip everyone on a number range assigned after its
     * release. false: such a user is skipped as invalid-number (also a typo that keeps the length).
     */
    acceptPossibleNumbers: z.boolean().default(true),
  })
  .superRefine((d, ctx) => {
    if (d.urls.length === 0 && d.srvDomain === undefined)
      ctx.addIssue({ code: 'custom', path: ['urls'], message: 'give at least one DC URL or srvDomain' });
    if (d.srvDomain !== undefined && d.caFile === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['caFile'],
        message:
          'srvDomain needs caFile: DNS answers are not authenticated, and with the system CAs any public certificate for a spoofed name would receive every password',
      });
    const plain = d.urls.some((u) => u.toLowerCase().startsWith('ldap://'));
    if (plain && !d.startTls && !d.allowInsecure)
      ctx.addIssue({
        code: 'custom',
        path: ['startTls'],
        message:
          'ldap:// without StartTLS would send passwords in clear: enable startTls, use ldaps://, or set allowInsecure',
      });
  });

export const directorySchema = z.discriminatedUnion('kind', [
  // No directory configured yet (a freshly flashed box): setup mode, every login refused.
  z.object({
    kind: z.literal('none'),
    syncIntervalMinutes: z.literal(0).default(0),
    maxRemovalPercent: z.number().min(0).max(100).default(10),
    group: z.string().min(1).default('MFA Users'),
    acceptPossibleNumbers: z.boolean().default(true),
  }),
  z.object({
    kind: z.literal('demo'),
    /** [0...1440] min, default 15: group sync schedule of the demo directory; 0 = only on demand. */
    syncIntervalMinutes: z.number().int().min(0).max(1440).default(15),
    /** [0...100] %, default 10: see the ldap kind. */
    maxRemovalPercent: z.number().min(0).max(100).default(10),
    /** Group whose members use MFA. Default "MFA Users". */
    group: z.string().min(1).default('MFA Users'),
    /** true | false, default true: see the ldap kind; on here because the demo users' 555 numbers are fictional. */
    acceptPossibleNumbers: z.boolean().default(true),
  }),
  ldapDirectorySchema,
]);

export const webSchema = z.object({
  /** Address the page listens on; default 0.0.0.0 (every IPv4 address of the box). */
  address: z.string().default('0.0.0.0'),
  /** Default 443 with tls, else the plain HTTP port (the demo: 8080). */
  port: port.default(443),
  /** true (default): HTTPS on `port`, with a self-signed certificate made at first start unless certFile/keyFile are set. false: plain HTTP serves the page (explicitly enabled; the demo on loopback). */
  tls: z.boolean().default(true),
  /** PEM certificate (chain) for HTTPS; default <dataDir>/web-tls/cert.pem, generated self-signed at first start. */
  certFile: z.string().min(1).optional(),
  /** PEM private key for HTTPS; default <dataDir>/web-tls/key.pem. */
  keyFile: z.string().min(1).optional(),
  /** With tls: plain HTTP port that only redirects to HTTPS; default 80, 0 = none. */
  redirectPort: port.default(80),
  /** With tls: plain HTTP on 127.0.0.1 for the `mfabox` command's local API; default 8080, 0 = none. */
  localPort: port.default(8080),
  /** Extra names the box is reached by (Host header check against DNS rebinding); its hostname, hostname.local and own addresses are always allowed. */
  hosts: z.array(z.string().min(1).max(253)).default([]),
  /** Admin source networks (CIDR); empty (default) allows any. Loopback is always allowed. */
  adminNetworks: z.array(cidr).default([]),
  /** [5...720] min, default 30: an admin session idle this long is logged out. */
  sessionIdleMinutes: z.number().int().min(5).max(720).default(30),
  /** Read-only token for monitoring: GET /api/health with `Authorization: Bearer <token>`; at least 24 characters. Default none. */
  monitorToken: z.string().min(24).optional(),
});

export const configSchema = z
  .object({
    /** LevelDB directory. */
    dataDir: z.string().default('/var/lib/mfabox'),
    /**
     * The device key (32 bytes, mode 0600, owned by the service user), outside dataDir so a copy
     * of the data directory decrypts nothing; created at first start. Default /etc/mfabox/device.key.
     */
    deviceKeyFile: z.string().min(1).default('/etc/mfabox/device.key'),
    radius: radiusSchema.default(radiusSchema.parse({})),
    /** The AD/LDAP directory. Default kind none: setup mode (every login refused, health says what is missing). The demo directory works in `mfabox demo` only. */
    directory: directorySchema.prefault({ kind: 'none' }),
    modems: z.array(modemSchema).default([]),
    passcode: passcodeSchema.default(passcodeSchema.parse({})),
    policy: policySchema.default(policySchema.parse({})),
    /** Lockout after wrong second-factor codes (escalating); see firmware/src/auth/README.md. */
    lockout: lockoutSchema.default(lockoutSchema.parse({})),
    /** SMS per IP and per minute, and the bad-password throttle. */
    limits: limitsSchema.default(limitsSchema.parse({})),
    /** Second-factor methods and their chains. */
    methods: methodsSchema.default(methodsSchema.parse({})),
    web: webSchema.default(webSchema.parse({})),
    /** Auth log retention (firmware/src/audit/README.md). */
    audit: auditSchema.default(auditSchema.parse({})),
    /** Syslog targets that receive every audit record (RFC 5424); default none. */
    syslog: z.array(syslogTargetSchema).max(8).default([]),
    /** Default country for numbers without a + prefix (ISO 3166 alpha-2), default US. */
    defaultCountry: z.string().length(2).default('US'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
  })
  .superRefine((c, ctx) => {
    c.policy.rules.forEach((r, i) => {
      if (typeof r.then === 'object' && !(r.then.challenge in c.methods.chains))
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'rules', i, 'then', 'challenge'],
          message: `no chain "${r.then.challenge}" in methods.chains (${Object.keys(c.methods.chains).join(', ')})`,
        });
    });
    if (!('default' in c.methods.chains))
      ctx.addIssue({ code: 'custom', path: ['methods', 'chains'], message: 'a "default" chain is required' });
    if (c.methods.email.enabled && (c.methods.email.host === undefined || c.methods.email.from === undefined))
      ctx.addIssue({ code: 'custom', path: ['methods', 'email'], message: 'email needs host and from' });
    if ((c.methods.email.user === undefined) !== (c.methods.email.password === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['methods', 'email', c.methods.email.user === undefined ? 'user' : 'password'],
        message: 'SMTP AUTH needs both user and password (or neither)',
      });
  });

export type Config = z.infer<typeof configSchema>;
export type RadiusClientConfig = z.infer<typeof radiusClientSchema>;
export type RadiusConfig = z.infer<typeof radiusSchema>;
export type ModemConfig = z.infer<typeof modemSchema>;
export type DirectoryConfig = z.infer<typeof directorySchema>;
export type LdapDirectoryConfig = z.infer<typeof ldapDirectorySchema>;
export type PasscodeConfig = z.infer<typeof passcodeSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type GroupAttributeConfig = z.infer<typeof groupAttributeSchema>;
