/**
 * System: firmware, time and clock, who may reach this page (admin networks, names), the TLS
 * certificate, the admin accounts, backup and restore, reboot and factory reset.
 */
import { api } from '../api.ts';
import { h, say, table } from '../dom.ts';
import { fail, getConfig, patchConfig, show } from '../page.ts';
import { showPending, type Pending } from '../pending.ts';
import { adminsSection } from './system-admins.ts';
import { backupSection } from './system-backup.ts';

interface CertFacts {
  subject: string;
  issuer?: string;
  validTo: string;
  fingerprint256: string;
  selfSigned?: boolean;
}

const lines = (s: string): string[] =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function accessSection(web: { adminNetworks: string[]; hosts: string[] }): HTMLElement {
  const nets = h('textarea', { id: 'admin-networks', rows: '2', placeholder: '10.0.0.0/24 (empty: any)' });
  nets.value = web.adminNetworks.join('\n');
  const hosts = h('textarea', { id: 'web-hosts', rows: '2', placeholder: 'mfabox.corp.example' });
  hosts.value = web.hosts.join('\n');
  const form = h(
    'form',
    { id: 'access-form' },
    h('label', {}, 'Admin networks (CIDR, one a line; empty allows any; this box itself always may) ', nets),
    h('label', {}, 'Extra names this box is reached by (its hostname and addresses always work) ', hosts),
    h('button', { type: 'submit', id: 'access-save' }, 'Save (rolled back unless kept)'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    patchConfig({ web: { adminNetworks: lines(nets.value), hosts: lines(hosts.value) } }).catch(fail);
  });
  return h('section', { id: 'access' }, h('h2', {}, 'Who may reach this page'), form);
}

function certSection(cert: CertFacts | undefined, tls: boolean, reload: () => Promise<void>): HTMLElement {
  const certFile = h('input', { id: 'cert-file', type: 'file', accept: '.pem,.crt,.cer' });
  const keyFile = h('input', { id: 'key-file', type: 'file', accept: '.pem,.key' });
  const form = h(
    'form',
    { id: 'cert-form' },
    h('label', {}, 'Certificate (PEM, with its chain) ', certFile),
    h('label', {}, 'Private key (PEM, unencrypted) ', keyFile),
    h('button', { type: 'submit', id: 'cert-upload' }, 'Upload'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const c = certFile.files?.[0];
    const k = keyFile.files?.[0];
    if (!c || !k) return say('Choose both the certificate and its key', 'error');
    Promise.all([c.text(), k.text()])
      .then(([certPem, keyPem]) =>
        api<CertFacts & { restartNeeded: boolean; confirm?: Pending }>('POST', '/api/system/certificate', {
          cert: certPem,
          key: keyPem,
        }),
      )
      .then(async (r) => {
        say(
          `Certificate installed: ${r.subject}, valid to ${r.validTo}${r.restartNeeded ? ' (used once HTTPS is on, after a restart)' : ''}`,
          'ok',
        );
        await reload();
        if (r.confirm) showPending(r.confirm);
      })
      .catch(fail);
  });
  return h(
    'section',
    { id: 'certificate' },
    h('h2', {}, 'TLS certificate'),
    h(
      'p',
      { id: 'cert-facts' },
      cert
        ? `${cert.subject}${cert.selfSigned ? ' (self-signed)' : ` issued by ${cert.issuer ?? ''}`}, valid to ${cert.validTo}; SHA-256 ${cert.fingerprint256}`
        : tls
          ? 'none yet'
          : 'This page is served over plain HTTP (web.tls is off): an uploaded certificate is used after turning HTTPS on and restarting.',
    ),
    form,
  );
}

function powerSection(): HTMLElement {
  const reboot = h('button', { type: 'button', id: 'reboot' }, 'Reboot');
  reboot.addEventListener('click', () => {
    if (!confirm('Reboot the box now? RADIUS logins fail until it is back (about a minute).')) return;
    api('POST', '/api/system/reboot', { confirm: 'reboot' })
      .then(() => say('Rebooting… reload this page in a minute.', 'ok'))
      .catch(fail);
  });
  const phrase = h('input', { id: 'reset-phrase', autocomplete: 'off', placeholder: 'factory reset' });
  const pw = h('input', { id: 'reset-password', type: 'password', autocomplete: 'current-password' });
  const reset = h(
    'form',
    { id: 'reset-form' },
    h('h3', {}, 'Factory reset'),
    h(
      'p',
      {},
      'Erases the config, every secret, the admin accounts, the user list and the audit log, then reboots. A new admin password is printed on the console. Download a backup first.',
    ),
    h('label', {}, 'Type "factory reset" ', phrase),
    h('label', {}, 'Your password ', pw),
    h('button', { type: 'submit', id: 'reset', class: 'danger' }, 'Erase everything and reboot'),
  );
  reset.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/system/factory-reset', { confirm: phrase.value, password: pw.value })
      .then(() => say('Factory reset: the box reboots now.', 'ok'))
      .catch(fail);
  });
  return h('section', { id: 'power' }, h('h2', {}, 'Reboot and reset'), reboot, reset);
}

export async function systemPage(): Promise<void> {
  const [s, session, v] = await Promise.all([
    api<{
      version: string;
      time: string;
      timeZone: string;
      clockSynced: boolean | string;
      tls: boolean;
      certificate?: CertFacts;
    }>('GET', '/api/system'),
    api<{ username: string }>('GET', '/api/session'),
    getConfig(),
  ]);
  const web = (v.config as { web?: { adminNetworks?: string[]; hosts?: string[] } }).web ?? {};
  const reload = (): Promise<void> => systemPage();
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
      ],
    ),
    accessSection({ adminNetworks: web.adminNetworks ?? [], hosts: web.hosts ?? [] }),
    certSection(s.certificate, s.tls, reload),
    await adminsSection(session.username, reload),
    backupSection(reload),
    powerSection(),
  );
}
