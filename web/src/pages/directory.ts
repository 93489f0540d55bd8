/**
 * Directory: the settings form (DCs, TLS, service account with a write-only password, group,
 * attribute mapping, default country), Test connection (the steps `mfabox directory test` prints,
 * run on the unsaved form), and Sync now with each skipped user's reason and held removals.
 */
import { api } from '../api.ts';
import { h, say, table } from '../dom.ts';
import {
  type ConfigView,
  type SecretField,
  fail,
  getConfig,
  patchConfig,
  secretState,
  secretValue,
  show,
} from '../page.ts';

interface SyncStatus {
  state: string;
  seen: number;
  added: number;
  removed: number;
  skipped: { username: string; reason: string; detail?: string }[];
  pendingRemovals?: { count: number };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

function settingsForm(v: ConfigView): HTMLFormElement {
  const d = v.config.directory;
  const attrs = (d.attributes ?? {}) as Record<string, string>;
  const input = (id: string, value: unknown, extra: Record<string, string> = {}): HTMLInputElement =>
    h('input', { id: `dir-${id}`, value: str(value), ...extra });
  const kind = h(
    'select',
    { id: 'dir-kind' },
    h('option', { value: 'none' }, 'none (setup mode: every login refused)'),
    h('option', { value: 'demo' }, 'demo (built-in users, demo only)'),
    h('option', { value: 'ldap' }, 'Active Directory / LDAP'),
  );
  kind.value = d.kind;
  const dialect = h(
    'select',
    { id: 'dir-dialect' },
    h('option', { value: 'ad' }, 'Active Directory'),
    h('option', { value: 'openldap' }, 'OpenLDAP'),
  );
  dialect.value = str(d.dialect) || 'ad';
  const urls = h('textarea', { id: 'dir-urls', rows: '2', placeholder: 'ldaps://dc1.corp.example:636' });
  urls.value = Array.isArray(d.urls) ? d.urls.join('\n') : '';
  const srv = input('srv-domain', d.srvDomain, { placeholder: 'corp.example (DNS SRV discovery)' });
  const ca = input('ca-file', d.caFile, { placeholder: '/etc/mfabox/corp-ca.pem' });
  const caUpload = h('input', { id: 'dir-ca-upload', type: 'file', accept: '.pem,.crt,.cer' });
  caUpload.addEventListener('change', () => {
    const file = caUpload.files?.[0];
    if (!file) return;
    file
      .text()
      .then((pem) =>
        api<{ path: string; certificates: { subject: string; validTo: string }[] }>(
          'POST',
          '/api/directory/ca',
          { pem },
        ),
      )
      .then((r) => {
        ca.value = r.path;
        const who = r.certificates.map((c) => c.subject.replace(/\n/g, ', ')).join('; ');
        say(`CA uploaded (${who}); test the connection, then save`, 'ok');
      })
      .catch(fail);
  });
  const tlsName = input('tls-server-name', d.tlsServerName);
  const startTls = h('input', { id: 'dir-starttls', type: 'checkbox', checked: d.startTls !== false });
  const baseDn = input('base-dn', d.baseDn, { placeholder: 'DC=corp,DC=example' });
  const bindDn = input('bind-dn', d.bindDn, { placeholder: 'svc-mfabox@corp.example' });
  const bindPw = h('input', {
    id: 'dir-bind-password',
    type: 'password',
    autocomplete: 'new-password',
    placeholder: `${secretState(d.bindPassword as SecretField | undefined)}; leave empty to keep`,
  });
  const group = input('group', d.group);
  const userFilter = input('user-filter', d.userFilter);
  const login = input('attr-login', attrs.login, { placeholder: 'sAMAccountName' });
  const mobile = input('attr-mobile', attrs.mobile, { placeholder: 'mobile' });
  const second = input('attr-secondary', attrs.secondaryMobile, { placeholder: 'otherMobile' });
  const display = input('attr-display', attrs.displayName, { placeholder: 'displayName' });
  const interval = input('sync-interval', d.syncIntervalMinutes ?? 15, {
    type: 'number',
    min: '0',
    max: '1440',
  });
  const country = input('country', v.config.defaultCountry, { maxlength: '2', size: '2' });
  const testUser = h('input', { id: 'dir-test-user', placeholder: 'optional: also look up this user' });
  const output = h('pre', { id: 'dir-test-output', class: 'cli', hidden: true });
  const ldapOnly = h(
    'fieldset',
    {},
    h('legend', {}, 'Domain controllers and service account'),
    h('label', {}, 'Dialect ', dialect),
    h('label', {}, 'DC URLs, one a line ', urls),
    h('label', {}, 'DNS domain for DC discovery ', srv),
    h('label', {}, 'CA bundle file on the box (pins the DCs’ CA) ', ca),
    h('label', {}, 'or upload the CA certificate (PEM) ', caUpload),
    h('label', {}, 'TLS server name (when the URLs use IP addresses) ', tlsName),
    h('label', {}, startTls, ' StartTLS on ldap:// URLs'),
    h('label', {}, 'Base DN ', baseDn),
    h('label', {}, 'Service account (DN or UPN) ', bindDn),
    h('label', {}, 'Service account password ', bindPw),
    h('label', {}, 'Extra user filter ', userFilter),
    h('label', {}, 'Login attribute ', login),
    h('label', {}, 'Mobile attribute ', mobile),
    h('label', {}, 'Secondary number attribute ', second),
    h('label', {}, 'Display name attribute ', display),
  );
  const sync = () => (kind.value === 'none' ? {} : { syncIntervalMinutes: Number(interval.value) });
  /** The form as a merge patch of `directory`: emptied optional fields and other kinds' keys are removed. */
  const directoryPatch = (): Record<string, unknown> => {
    const opt = (x: HTMLInputElement): string | null => (x.value.trim() === '' ? null : x.value.trim());
    const next: Record<string, unknown> =
      kind.value !== 'ldap'
        ? { kind: kind.value, group: group.value, ...sync() }
        : {
            kind: 'ldap',
            dialect: dialect.value,
            urls: urls.value
              .split('\n')
              .map((u) => u.trim())
              .filter((u) => u !== ''),
            srvDomain: opt(srv),
            caFile: opt(ca),
            tlsServerName: opt(tlsName),
            startTls: startTls.checked,
            baseDn: baseDn.value.trim(),
            bindDn: bindDn.value.trim(),
            bindPassword: secretValue(bindPw.value, d.bindPassword as SecretField | undefined) ?? null,
            group: group.value,
            userFilter: opt(userFilter),
            attributes: {
              login: opt(login),
              mobile: opt(mobile),
              secondaryMobile: opt(second),
              displayName: opt(display),
            },
            ...sync(),
          };
    for (const k of Object.keys(d)) if (!(k in next)) next[k] = null;
    return next;
  };
  const showKind = (): void => {
    ldapOnly.hidden = kind.value !== 'ldap';
  };
  kind.addEventListener('change', showKind);
  showKind();
  const test = h('button', { type: 'button', id: 'dir-test' }, 'Test connection');
  test.addEventListener('click', () => {
    say('Testing the connection…');
    output.hidden = true;
    api<{ ok: boolean; passed: number; total: number; lines: string[] }>('POST', '/api/directory/test', {
      directory: directoryPatch(),
      ...(testUser.value.trim() ? { user: testUser.value.trim() } : {}),
    })
      .then((r) => {
        output.textContent = r.lines.join('\n');
        output.hidden = false;
        say(
          r.ok ? 'Connection test passed' : 'Connection test failed: see the steps below',
          r.ok ? 'ok' : 'error',
        );
      })
      .catch(fail);
  });
  const form = h(
    'form',
    { id: 'dir-form' },
    h('h2', {}, 'Settings'),
    h('label', {}, 'Directory ', kind),
    ldapOnly,
    h('label', {}, 'MFA group (CN or DN) ', group),
    h('label', {}, 'Sync every (minutes, 0 = on demand) ', interval),
    h('label', {}, 'Default country for numbers without + ', country),
    h('button', { type: 'submit', id: 'dir-save' }, 'Save'),
    ' ',
    test,
    ' ',
    testUser,
    output,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    patchConfig({ directory: directoryPatch(), defaultCountry: country.value.toUpperCase() })
      .then(directoryPage)
      .catch(fail);
  });
  return form;
}

export async function directoryPage(): Promise<void> {
  const [s, v] = await Promise.all([api<SyncStatus>('GET', '/api/directory/sync'), getConfig()]);
  const run = (confirm: boolean): void => {
    say('Syncing…');
    api('POST', '/api/directory/sync', { confirm })
      .then(() => {
        say('Sync finished', 'ok');
        return directoryPage();
      })
      .catch(fail);
  };
  show(
    h('h1', {}, 'Directory'),
    h(
      'p',
      { id: 'sync-state' },
      `Last sync: ${s.state}; ${s.seen} seen, ${s.added} added, ${s.removed} removed`,
    ),
    table(
      ['Skipped user', 'Reason'],
      s.skipped.map((k) => [k.username, `${k.reason}${k.detail ? ` (${k.detail})` : ''}`]),
    ),
    h('button', { type: 'button', id: 'sync-now', onclick: () => run(false) }, 'Sync now'),
    s.pendingRemovals
      ? h(
          'button',
          { type: 'button', id: 'sync-confirm', onclick: () => run(true) },
          `Confirm removing ${s.pendingRemovals.count} users`,
        )
      : undefined,
    settingsForm(v),
  );
}
