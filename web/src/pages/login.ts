/** Log in, and the forced password change at first login. */
import { api, setCsrf } from '../api.ts';
import { h, say } from '../dom.ts';
import { fail, show } from '../page.ts';

export function loginPage(enter: () => void): void {
  (document.getElementById('nav') as HTMLElement).hidden = true;
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
        return r.mustChange ? changePasswordPage(enter) : enter();
      })
      .catch(fail);
  });
  show(form);
  user.focus();
}

export function changePasswordPage(enter: () => void): void {
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
