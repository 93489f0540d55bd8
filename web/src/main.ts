/**
 * The MFA Box config page: a small router. Each page is a module under pages/ that draws itself
 * into #main through the JSON API; a page is added here with its hash and nav title.
 */
import { api, setCsrf } from './api.ts';
import { h, say } from './dom.ts';
import { dashboard } from './pages/dashboard.ts';
import { directoryPage } from './pages/directory.ts';
import { changePasswordPage, loginPage } from './pages/login.ts';
import { modemsPage } from './pages/modems.ts';
import { passcodesPage } from './pages/passcodes.ts';
import { radiusPage } from './pages/radius.ts';
import { systemPage } from './pages/system.ts';
import { usersPage } from './pages/users.ts';
import { fail, setLoggedOutHandler } from './page.ts';
import { checkPending } from './pending.ts';

/** hash → [nav title, page]; the first is the default. */
const PAGES: [string, string, () => Promise<void>][] = [
  ['dashboard', 'Dashboard', dashboard],
  ['radius', 'RADIUS clients', radiusPage],
  ['users', 'Users', () => usersPage()],
  ['directory', 'Directory', directoryPage],
  ['modems', 'Modems', modemsPage],
  ['passcodes', 'Passcodes', passcodesPage],
  ['system', 'System', systemPage],
];

const nav = document.getElementById('nav') as HTMLElement;
nav.prepend(...PAGES.map(([hash, title]) => h('a', { href: `#${hash}` }, title)));

function route(): void {
  const hash = location.hash.slice(1);
  const page = (PAGES.find(([x]) => x === hash) ?? PAGES[0])?.[2];
  for (const a of nav.querySelectorAll('a'))
    if (a.getAttribute('href') === `#${hash}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  page?.().catch(fail);
}

function enter(): void {
  nav.hidden = false;
  route();
  // A change may be waiting for confirmation from before this login or reload.
  checkPending().catch(() => undefined);
}

const toLogin = (): void => loginPage(enter);
setLoggedOutHandler(toLogin);

window.addEventListener('hashchange', route);
document.getElementById('logout')?.addEventListener('click', () => {
  api('DELETE', '/api/session')
    .then(() => {
      say('Logged out');
      toLogin();
    })
    .catch(fail);
});

api<{ authenticated: boolean; csrfToken?: string; mustChange?: boolean }>('GET', '/api/session')
  .then((s) => {
    if (!s.authenticated) return toLogin();
    setCsrf(s.csrfToken ?? '');
    return s.mustChange ? changePasswordPage(enter) : enter();
  })
  .catch(fail);
