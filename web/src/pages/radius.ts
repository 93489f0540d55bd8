/** RADIUS clients: add, edit, delete (the secrets write-only), and each client's NetScaler CLI block. */
import { h, table } from '../dom.ts';
import {
  type Client,
  fail,
  getConfig,
  getHealth,
  patchConfig,
  secretState,
  secretValue,
  show,
} from '../page.ts';
import { netscalerCli } from '../sms.ts';

/** "Class = vpn" lines ⇄ [["Class","vpn"]]; numbers stay numbers (Session-Timeout = 28800). */
function attributesText(a: unknown): string {
  return Array.isArray(a) ? a.map((x) => (Array.isArray(x) ? `${x[0]} = ${x[1]}` : '')).join('\n') : '';
}
function parseAttributes(text: string): [string, string | number][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const eq = l.indexOf('=');
      const name = (eq < 0 ? l : l.slice(0, eq)).trim();
      const value = eq < 0 ? '' : l.slice(eq + 1).trim();
      return [name, /^\d+$/.test(value) ? Number(value) : value];
    });
}

export async function radiusPage(): Promise<void> {
  const [v, health] = await Promise.all([getConfig(), getHealth()]);
  const clients = v.config.radius.clients;
  const listen = v.config.radius.listen[0];
  const box = listen && listen.address !== '0.0.0.0' ? listen.address : location.hostname;
  const noMa = new Set(health.radius.clientsWithoutMessageAuthenticator);
  let editing: Client | undefined;

  const name = h('input', { id: 'client-name', required: true });
  const addr = h('input', { id: 'client-address', required: true, placeholder: '10.0.0.5 or 10.0.0.0/24' });
  const secret = h('input', { id: 'client-secret', type: 'password', autocomplete: 'new-password' });
  const ma = h(
    'select',
    { id: 'client-ma' },
    h('option', { value: 'auto' }, 'auto (required once seen)'),
    h('option', { value: 'yes' }, 'yes'),
    h('option', { value: 'no' }, 'no (BlastRADIUS exposure)'),
  );
  const pwCheck = h(
    'select',
    { id: 'client-password-check' },
    h('option', { value: 'directory' }, 'the box checks the AD password'),
    h('option', { value: 'none' }, 'NetScaler checked it (second factor only)'),
  );
  const monUser = h('input', { id: 'client-monitor-user', placeholder: 'mfabox-monitor' });
  const monPass = h('input', {
    id: 'client-monitor-password',
    type: 'password',
    autocomplete: 'new-password',
  });
  const attrs = h('textarea', { id: 'client-attributes', rows: '3', placeholder: 'Class = vpn' });
  const title = h('h2', {}, 'Add a client');
  const submit = h('button', { type: 'submit', id: 'client-add' }, 'Add');
  const cancel = h('button', { type: 'button', id: 'client-cancel', hidden: true }, 'Cancel');

  const fill = (c: Client | undefined): void => {
    editing = c;
    name.value = c?.name ?? '';
    addr.value = c?.address ?? '';
    secret.value = '';
    secret.required = c === undefined;
    secret.placeholder = c ? `${secretState(c.secret)}; leave empty to keep` : '';
    ma.value = c?.requireMessageAuthenticator ?? 'auto';
    pwCheck.value = c?.passwordCheck ?? 'directory';
    monUser.value = c?.monitorUser ?? '';
    monPass.value = '';
    monPass.placeholder = c ? `${secretState(c.monitorPassword)}; leave empty to keep` : '';
    attrs.value = attributesText(c?.acceptAttributes);
    title.textContent = c ? `Edit ${c.name}` : 'Add a client';
    submit.textContent = c ? 'Save changes' : 'Add';
    cancel.hidden = c === undefined;
    if (c) name.focus();
  };
  cancel.addEventListener('click', () => fill(undefined));

  const form = h(
    'form',
    { id: 'client-form' },
    title,
    h('label', {}, 'Name ', name),
    h('label', {}, 'Address or CIDR ', addr),
    h('label', {}, 'Shared secret ', secret),
    h('label', {}, 'Message-Authenticator ', ma),
    h('label', {}, 'Password check ', pwCheck),
    h('label', {}, 'Monitor user (optional) ', monUser),
    h('label', {}, 'Monitor password (16+ characters) ', monPass),
    h('label', {}, 'Reply attributes on Access-Accept, one "Name = value" a line ', attrs),
    submit,
    cancel,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const old = editing;
    const sec = secretValue(secret.value, old?.secret);
    const mp = monUser.value === '' ? undefined : secretValue(monPass.value, old?.monitorPassword);
    const c: Record<string, unknown> = {
      name: name.value,
      address: addr.value,
      requireMessageAuthenticator: ma.value,
      passwordCheck: pwCheck.value,
      acceptAttributes: parseAttributes(attrs.value),
      ...(sec === undefined ? {} : { secret: sec }),
      ...(monUser.value === '' ? {} : { monitorUser: monUser.value }),
      ...(mp === undefined ? {} : { monitorPassword: mp }),
    };
    // Secrets are matched by name: a renamed client needs its secret typed again (the box says so).
    const next = old ? clients.map((x) => (x === old ? c : x)) : [...clients, c];
    patchConfig({ radius: { clients: next } })
      .then(radiusPage)
      .catch(fail);
  });

  show(
    h('h1', {}, 'RADIUS clients'),
    table(
      ['Name', 'Address', 'Secret', 'Message-Authenticator', 'Sends it', ''],
      clients.map((c) => [
        c.name,
        c.address,
        secretState(c.secret),
        c.requireMessageAuthenticator,
        noMa.has(c.name) ? 'not seen yet' : 'yes',
        h(
          'span',
          {},
          h('button', { type: 'button', 'data-edit': c.name, onclick: () => fill(c) }, 'Edit'),
          ' ',
          h(
            'button',
            {
              type: 'button',
              'data-delete': c.name,
              onclick: () => {
                if (confirm(`Delete the RADIUS client ${c.name}?`))
                  patchConfig({ radius: { clients: clients.filter((x) => x !== c) } })
                    .then(radiusPage)
                    .catch(fail);
              },
            },
            'Delete',
          ),
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
