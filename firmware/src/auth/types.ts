/**
 * The seam between the RADIUS server (socket, validation, dedupe) and the auth engine, owned by
 * auth/: radius/ imports these types, auth/ imports nothing from radius/.
 * The engine never sees raw packets or secrets; the server never sees passcodes' meaning.
 */

export type RequireMessageAuthenticator = 'yes' | 'auto' | 'no';

export interface NasClient {
  name: string;
  /** The IP or CIDR that matched. */
  match: string;
  requireMessageAuthenticator: RequireMessageAuthenticator;
  passwordCheck: 'directory' | 'none';
  monitorUser?: string;
  /** Extra attributes on Access-Accept, e.g. [['Class', 'mfabox'], ['Session-Timeout', 28800]]. */
  acceptAttributes: [string, string | number][];
}

export interface AccessRequest {
  /** Source address and port, for logs and dedupe. */
  source: { address: string; port: number };
  identifier: number;
  userName: string;
  /** Decoded User-Password (already checked to be valid UTF-8 without NUL). */
  password: string;
  state?: Buffer;
  callingStationId?: string;
  nasIdentifier?: string;
  nasIpAddress?: string;
  /** True when the request carried a valid Message-Authenticator (integrity-protected). */
  messageAuthenticator?: boolean;
}

export type ReplyCode = 'Access-Accept' | 'Access-Reject' | 'Access-Challenge';

export interface HandlerReply {
  code: ReplyCode;
  /**
   * Attributes by dictionary name, or `26:<vendorId>:<type>` (see `vendorAttribute`) for a
   * Vendor-Specific one; the codec builds the bytes, Message-Authenticator first and Proxy-State last.
   */
  attributes: [string, string | number | Buffer][];
}

/** The seam's name for a Vendor-Specific attribute (RFC 2865 §5.26); radius/codec.ts builds its bytes. */
export function vendorAttribute(vendorId: number, type: number): string {
  return `26:${vendorId}:${type}`;
}

export type RadiusHandler = (req: AccessRequest, client: NasClient) => Promise<HandlerReply>;
