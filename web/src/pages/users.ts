/** Users: search the synced users (numbers, status, last login) and send a test SMS. */
import { api } from '../api.ts';
import { h, say, table } from '../dom.ts';
import { fail, show } from '../page.ts';

export async function usersPage(q = ''): Promise<void> {
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
