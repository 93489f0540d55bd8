/** The MFA Box config page: one page, a section per hash, everything through the JSON API. */
import { ApiError, api, setCsrf } from './api.ts';
import { h, say, table } from './dom.ts';
import { netscalerCli, smsParts } from './sms.ts';

interface Secret {
  set: boolean;
}
interface Client {
  name: string;
  address: string;
  secret: Secret | string;
  requireMessageAuthenticator: string;
  [k: string]: unknown;
}
interface ConfigView {
  revision: number;
  config: {
    radius: { clients: Client[]; listen: { address: string; port: number }[] };
    passcode: { smsTemplate: string; prompt: string; length: number; ttlSeconds: number; flash: boolean };
    directory: { kind: string; group: string };
    [k: string]: unknown;
  };
}
interface Health {
  status: string;
  problems: string[];
  modems: {
    name: string;
    state: string;
    bars?: number;
    dbm?: number;
    operator?: string;
    sentCount: number;
    failedCount: number;
  }[];
  directory: { state: string; server?: string };
  radius: { listening: string[]; counters: Record<string, Record<string, number>> };
}

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

function show(...nodes: (Node | undefined)[]): void {
  main.replaceChildren(...nodes.filter((n): n is Node => n !== undefined));
}

function fail(e: unknown): void {
  if (e instanceof ApiError && e.status === 401) return void loginPage();
  const issues = e instanceof ApiError ? e.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : '';
  say(
    `${e instanceof Error ? e.message : String(e)}${issues && !String(e).includes(issues) ? ` (${issues})` : ''}`,
    'error',
  );
}

async function patchConfig(patch: unknown): Promise<void> {
  const cur = await api<ConfigView>('GET', '/api/config');
  const r = await api<{ revision: number; restartNeeded: string[] }>('PATCH', '/api/config', patch, {
    'if-match': String(cur.revision),
  });
  say(
    `Saved (revision ${r.revision})${r.restartNeeded.length ? `; restart needed for ${r.restartNeeded.join(', ')}` : ''}`,
    'ok',
  );
}

function loginPage(): void {
  nav.hidden = true;
  const user = h('input', { id: 'username', autocomplete: 'username', required: true });
  const pass = h('input', {
    id: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = h(
    'form',
    {},
    h('h1', {}, 'Log in'),
    h('label', {}, 'User name ', user),
    h('label', {}, 'Password ', pass),
    h('button', { type: 'submit' }, 'Log in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api<{ csrfToken: string; mustChange: boolean }>('POST', '/api/session', {
      username: user.value,
      password: pass.value,
    })
      .then((r) => {
        setCsrf(r.csrfToken);
        say('');
        return r.mustChange ? changePasswordPage() : enter();
      })
      .catch(fail);
  });
  show(form);
  user.focus();
}

function changePasswordPage(): void {
  const cur = h('input', { id: 'current', type: 'password', autocomplete: 'current-password' });
  const next = h('input', { id: 'new', type: 'password', autocomplete: 'new-password', minlength: '10' });
  const form = h(
    'form',
    {},
    h('h1', {}, 'Choose your own password'),
    h('label', {}, 'Current password ', cur),
    h('label', {}, 'New password (10+ characters) ', next),
    h('button', { type: 'submit' }, 'Change'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/session/password', { currentPassword: cur.value, newPassword: next.value })
      .then(enter)
      .catch(fail);
  });
  show(form);
}

async function dashboard(): Promise<void> {
  const hl = await api<Health>('GET', '/api/health');
  const counters = Object.entries(hl.radius.counters).map(([client, c]) => [
    client,
    ...['requests', 'accepts', 'rejects', 'challenges'].map((k) => String(c[k] ?? 0)),
  ]);
  show(
    h('h1', {}, 'Dashboard ', h('span', { id: 'health', class: hl.status }, hl.status)),
    h('ul', {}, ...hl.problems.map((p) => h('li', { class: 'down' }, p))),
    h('h2', {}, 'Modems'),
    table(
      ['Name', 'State', 'Signal', 'Operator', 'Sent', 'Failed'],
      hl.modems.map((m) => [
        m.name,
        m.state,
        m.bars === undefined ? '' : `${m.bars}/5 (${m.dbm} dBm)`,
        m.operator ?? '',
        String(m.sentCount),
        String(m.failedCount),
      ]),
    ),
    h('h2', {}, 'RADIUS'),
    h('p', {}, `listening on ${hl.radius.listening.join(', ')}`),
    table(['Client', 'Requests', 'Accepts', 'Rejects', 'Challenges'], counters),
    h('h2', {}, 'Directory'),
    h('p', {}, `${hl.directory.state}${hl.directory.server ? ` — ${hl.directory.server}` : ''}`),
  );
}

async function radiusPage(): Promise<void> {
  const v = await api<ConfigView>('GET', '/api/config');
  const clients = v.config.radius.clients;
  const listen = v.config.radius.listen[0];
  const box = listen && listen.address !== '0.0.0.0' ? listen.address : location.hostname;
  const name = h('input', { id: 'client-name', required: true });
  const addr = h('input', { id: 'client-address', required: true, placeholder: '10.0.0.5 or 10.0.0.0/24' });
  const secret = h('input', {
    id: 'client-secret',
    type: 'password',
    required: true,
    autocomplete: 'new-password',
  });
  const ma = h(
    'select',
    { id: 'client-ma' },
    h('option', { value: 'auto' }, 'auto (required once seen)'),
    h('option', { value: 'yes' }, 'yes'),
    h('option', { value: 'no' }, 'no (BlastRADIUS exposure)'),
  );
  const form = h(
    'form',
    {},
    h('h2', {}, 'Add a client'),
    h('label', {}, 'Name ', name),
    h('label', {}, 'Address or CIDR ', addr),
    h('label', {}, 'Shared secret ', secret),
    h('label', {}, 'Message-Authenticator ', ma),
    h('button', { type: 'submit', id: 'client-add' }, 'Add'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = [
      ...clients,
      { name: name.value, address: addr.value, secret: secret.value, requireMessageAuthenticator: ma.value },
    ];
    patchConfig({ radius: { clients: next } })
      .then(radiusPage)
      .catch(fail);
  });
  show(
    h('h1', {}, 'RADIUS clients'),
    table(
      ['Name', 'Address', 'Secret', 'Message-Authenticator', ''],
      clients.map((c) => [
        c.name,
        c.address,
        typeof c.secret === 'object' && c.secret.set ? 'set' : 'not set',
        c.requireMessageAuthenticator,
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              if (confirm(`Delete the RADIUS client ${c.name}?`))
                patchConfig({ radius: { clients: clients.filter((x) => x !== c) } })
                  .then(radiusPage)
                  .catch(fail);
            },
          },
          'Delete',
        ),
      ]),
    ),
    ...clients.map((c) =>
      h(
        'details',
        {},
        h('summary', {}, `NetScaler CLI for ${c.name}`),
        h('pre', { class: 'cli' }, netscalerCli(c, box, listen?.port ?? 1812)),
      ),
    ),
    form,
  );
}

async function usersPage(q = ''): Promise<void> {
  const r = await api<{
    users: {
      username: string;
      displayName?: string;
      mobile?: string;
      secondaryMobile?: string;
      disabled: boolean;
      lastLogin?: { at: number; outcome: string };
    }[];
  }>('GET', `/api/users?q=${encodeURIComponent(q)}`);
  const search = h('input', { id: 'user-search', type: 'search', value: q, 'aria-label': 'Search users' });
  search.addEventListener('change', () => void usersPage(search.value).catch(fail));
  show(
    h('h1', {}, 'Users'),
    search,
    table(
      ['User', 'Name', 'Mobile', 'Secondary', 'Status', 'Last login', ''],
      r.users.map((u) => [
        u.username,
        u.displayName ?? '',
        u.mobile ?? '',
        u.secondaryMobile ?? '',
        u.disabled ? 'disabled' : 'active',
        u.lastLogin ? `${new Date(u.lastLogin.at).toLocaleString()} (${u.lastLogin.outcome})` : '',
        h(
          'button',
          {
            type: 'button',
            'data-user': u.username,
            onclick: () => {
              api<{ modem: string }>('POST', `/api/users/${encodeURIComponent(u.username)}/test-sms`, {})
                .then((x) => say(`Test SMS sent to ${u.username} through ${x.modem}`, 'ok'))
                .catch(fail);
            },
          },
          'Send test SMS',
        ),
      ]),
    ),
  );
}

async function directoryPage(): Promise<void> {
  const s = await api<{
    state: string;
    seen: number;
    added: number;
    removed: number;
    skipped: { username: string; reason: string }[];
    pendingRemovals?: { count: number };
  }>('GET', '/api/directory/sync');
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
      s.skipped.map((k) => [k.username, k.reason]),
    ),
    h('button', { type: 'button', id: 'sync-now', onclick: () => run(false) }, 'Sync now'),
    s.pendingRemovals
      ? h(
          'button',
          { type: 'button', onclick: () => run(true) },
          `Confirm removing ${s.pendingRemovals.count} users`,
        )
      : undefined,
  );
}

async function passcodesPage(): Promise<void> {
  const v = await api<ConfigView>('GET', '/api/config');
  const p = v.config.passcode;
  const tpl = h('textarea', { id: 'sms-template', rows: '3' });
  tpl.value = p.smsTemplate;
  const flash = h('input', { id: 'sms-flash', type: 'checkbox', checked: p.flash });
  const preview = h('p', { id: 'sms-preview' });
  const update = (): void => {
    const text = tpl.value
      .replaceAll('{code}', '0'.repeat(p.length))
      .replaceAll('{minutes}', String(Math.round(p.ttlSeconds / 60)));
    const parts = smsParts(text);
    preview.textContent = `${text} — ${parts.encoding}, ${parts.units} characters, ${parts.parts} SMS part${parts.parts === 1 ? '' : 's'}`;
  };
  tpl.addEventListener('input', update);
  update();
  const form = h(
    'form',
    {},
    h('label', {}, 'SMS text ({code} required, {minutes} optional) ', tpl),
    preview,
    h('label', {}, flash, ' Flash SMS (shown at once, not stored)'),
    h('button', { type: 'submit', id: 'sms-save' }, 'Save'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    patchConfig({ passcode: { smsTemplate: tpl.value, flash: flash.checked } }).catch(fail);
  });
  show(
    h('h1', {}, 'Passcodes and messages'),
    h('p', {}, `Length ${p.length}, valid ${p.ttlSeconds} s`),
    form,
  );
}

async function systemPage(): Promise<void> {
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

const PAGES: Record<string, () => Promise<void>> = {
  dashboard,
  radius: radiusPage,
  users: () => usersPage(),
  directory: directoryPage,
  passcodes: passcodesPage,
  system: systemPage,
};

function route(): void {
  const page = PAGES[location.hash.slice(1)] ?? dashboard;
  page().catch(fail);
}

function enter(): void {
  nav.hidden = false;
  route();
}

window.addEventListener('hashchange', route);
document.getElementById('logout')?.addEventListener('click', () => {
  api('DELETE', '/api/session')
    .then(() => {
      say('Logged out');
      loginPage();
    })
    .catch(fail);
});

api<{ authenticated: boolean; csrfToken?: string; mustChange?: boolean }>('GET', '/api/session')
  .then((s) => {
    if (!s.authenticated) return loginPage();
    setCsrf(s.csrfToken ?? '');
    return s.mustChange ? changePasswordPage() : enter();
  })
  .catch(fail);
