/** System → Admins: list, add, remove, set another admin's password, change your own. */
import { api } from '../api.ts';
import { h, say, table } from '../dom.ts';
import { fail } from '../page.ts';

interface AdminRow {
  username: string;
  mustChange: boolean;
  lastLoginAt?: string;
}

export async function adminsSection(me: string, reload: () => Promise<void>): Promise<HTMLElement> {
  const a = await api<{ admins: AdminRow[] }>('GET', '/api/admins');
  const done = (text: string) => (): Promise<void> => {
    say(text, 'ok');
    return reload();
  };

  const rows = a.admins.map((x) => {
    const actions: (string | Node)[] = [];
    if (x.username !== me) {
      const setPw = h('button', { type: 'button', 'data-set-password': x.username }, 'Set password');
      setPw.addEventListener('click', () => {
        const pw = prompt(
          `New password for ${x.username} (10+ characters; they must change it at next login)`,
        );
        if (pw === null) return;
        api('POST', `/api/admins/${encodeURIComponent(x.username)}/password`, { password: pw })
          .then(done(`Password of ${x.username} set; they must change it at their next login`))
          .catch(fail);
      });
      const remove = h('button', { type: 'button', 'data-remove-admin': x.username }, 'Remove');
      remove.addEventListener('click', () => {
        if (!confirm(`Remove the admin ${x.username}?`)) return;
        api('DELETE', `/api/admins/${encodeURIComponent(x.username)}`)
          .then(done(`Admin ${x.username} removed`))
          .catch(fail);
      });
      actions.push(setPw, ' ', remove);
    } else actions.push('(you)');
    return [
      x.username,
      x.mustChange ? 'yes' : 'no',
      x.lastLoginAt ? new Date(x.lastLoginAt).toLocaleString() : '',
      h('span', {}, ...actions),
    ];
  });

  const name = h('input', {
    id: 'admin-name',
    required: true,
    autocomplete: 'off',
    pattern: '[A-Za-z0-9._-]{1,64}',
  });
  const pw = h('input', {
    id: 'admin-password',
    type: 'password',
    required: true,
    autocomplete: 'new-password',
  });
  const add = h(
    'form',
    { id: 'admin-add' },
    h('h3', {}, 'Add an admin'),
    h('label', {}, 'User name ', name),
    h('label', {}, 'First password (10+ characters; changed at first login) ', pw),
    h('button', { type: 'submit' }, 'Add admin'),
  );
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/admins', { username: name.value, password: pw.value })
      .then(done(`Admin ${name.value} added`))
      .catch(fail);
  });

  const cur = h('input', {
    id: 'own-current',
    type: 'password',
    required: true,
    autocomplete: 'current-password',
  });
  const next = h('input', { id: 'own-new', type: 'password', required: true, autocomplete: 'new-password' });
  const own = h(
    'form',
    { id: 'own-password' },
    h('h3', {}, `Change your password (${me})`),
    h('label', {}, 'Current password ', cur),
    h('label', {}, 'New password (10+ characters) ', next),
    h('button', { type: 'submit' }, 'Change my password'),
  );
  own.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/session/password', { currentPassword: cur.value, newPassword: next.value })
      .then(done('Your password was changed'))
      .catch(fail);
  });

  return h(
    'section',
    { id: 'admins' },
    h('h2', {}, 'Admins'),
    table(['Name', 'Must change password', 'Last login', ''], rows),
    h(
      'p',
      {},
      'The last admin cannot be removed. Lost every password? On the box: sudo mfabox admin reset-password.',
    ),
    add,
    own,
  );
}
