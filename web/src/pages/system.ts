/** System: firmware, time and clock, the TLS certificate, the admin accounts. */
import { api } from '../api.ts';
import { h, table } from '../dom.ts';
import { show } from '../page.ts';

export async function systemPage(): Promise<void> {
  const s = await api<{
    version: string;
    time: string;
    timeZone: string;
    clockSynced: boolean | string;
    certificate?: { subject: string; validTo: string; fingerprint256: string };
  }>('GET', '/api/system');
  const a = await api<{ admins: { username: string; mustChange: boolean; lastLoginAt?: string }[] }>(
    'GET',
    '/api/admins',
  );
  show(
    h('h1', {}, 'System'),
    table(
      ['', ''],
      [
        ['Firmware', s.version],
        [
          'Time',
          `${s.time} (${s.timeZone}), clock ${s.clockSynced === true ? 'synced' : s.clockSynced === false ? 'NOT synced' : 'sync unknown'}`,
        ],
        [
          'TLS certificate',
          s.certificate ? `${s.certificate.subject}, valid to ${s.certificate.validTo}` : 'plain HTTP (demo)',
        ],
      ],
    ),
    h('h2', {}, 'Admins'),
    table(
      ['Name', 'Must change password', 'Last login'],
      a.admins.map((x) => [x.username, x.mustChange ? 'yes' : 'no', x.lastLoginAt ?? '']),
    ),
  );
}
