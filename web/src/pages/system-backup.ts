/** System → Backup and restore: one file, encrypted with a passphrase the admin chooses. */
import { api, csrfToken } from '../api.ts';
import { h, say } from '../dom.ts';
import { fail } from '../page.ts';

/** The API answers the file itself; fetch it here so the CSRF header and JSON body go with it. */
async function download(passphrase: string): Promise<void> {
  const res = await fetch('/api/system/backup', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken() },
    body: JSON.stringify({ passphrase }),
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new Error(body.message ?? `HTTP ${res.status}`);
  }
  const name =
    /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'mfabox.mfabox-backup';
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function backupSection(reload: () => Promise<void>): HTMLElement {
  const pass = h('input', {
    id: 'backup-passphrase',
    type: 'password',
    autocomplete: 'new-password',
    minlength: '12',
  });
  const dl = h(
    'form',
    { id: 'backup-form' },
    h('label', {}, 'Passphrase for the backup (12+ characters; without it the file cannot be opened) ', pass),
    h('button', { type: 'submit', id: 'backup-download' }, 'Download backup'),
  );
  dl.addEventListener('submit', (e) => {
    e.preventDefault();
    download(pass.value)
      .then(() => say('Backup downloaded. Keep the file and its passphrase apart.', 'ok'))
      .catch(fail);
  });

  const file = h('input', { id: 'restore-file', type: 'file', accept: '.mfabox-backup,application/json' });
  const rpass = h('input', { id: 'restore-passphrase', type: 'password', autocomplete: 'off' });
  const restore = h(
    'form',
    { id: 'restore-form' },
    h('label', {}, 'Backup file ', file),
    h('label', {}, 'Its passphrase ', rpass),
    h('button', { type: 'submit', id: 'restore' }, 'Restore'),
  );
  restore.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return say('Choose a backup file first', 'error');
    if (!confirm('Restore this backup? The config, admin accounts and device key are replaced.')) return;
    f.text()
      .then((text) =>
        api<{ revision: number; restartNeeded: string[] }>('POST', '/api/system/restore', {
          file: text,
          passphrase: rpass.value,
        }),
      )
      .then((r) => {
        say(
          `Restored (revision ${r.revision})${r.restartNeeded.length ? `; reboot to use the restored ${r.restartNeeded.join(', ')}` : ''}`,
          'ok',
        );
        return reload();
      })
      .catch(fail);
  });
  return h(
    'section',
    { id: 'backup' },
    h('h2', {}, 'Backup and restore'),
    h(
      'p',
      {},
      'One file with the config (every secret), the device key, the admin accounts and the web certificate, encrypted with your passphrase.',
    ),
    dl,
    restore,
  );
}
