/**
 * Setup mode: a box that lacks a directory, a RADIUS client or a modem (a freshly flashed one)
 * still runs health and the web page so it can be configured from the LAN, but refuses every
 * login with a Reply-Message that says so. It never accepts: nothing behind it can check a
 * password or send a passcode. The demo directory, whose users' passwords are published, counts
 * as no directory outside `mfabox demo`.
 */
import type { Config } from '../config/schema.ts';
import type { HandlerReply, RadiusHandler } from './types.ts';

export const NOT_CONFIGURED = 'MFA Box is not configured yet: ask the administrator';

/** What is missing, in plain words for health and the log; empty when the box can serve logins. */
export function setupGaps(config: Config, opts: { demo: boolean; modems: number }): string[] {
  const gaps: string[] = [];
  if (config.directory.kind === 'none') gaps.push('no directory configured');
  else if (config.directory.kind === 'demo' && !opts.demo)
    gaps.push('the demo directory works only in `mfabox demo`: configure a directory');
  if (config.radius.clients.length === 0) gaps.push('no RADIUS client configured');
  if (opts.modems === 0) gaps.push('no modem configured');
  return gaps;
}

/** The handler of a box in setup mode: Access-Reject for every request, whatever it holds. */
export function notConfiguredHandler(onRequest?: (clientName: string) => void): RadiusHandler {
  const reject: HandlerReply = { code: 'Access-Reject', attributes: [['Reply-Message', NOT_CONFIGURED]] };
  return (_req, client) => {
    onRequest?.(client.name);
    return Promise.resolve({ code: reject.code, attributes: [...reject.attributes] });
  };
}
