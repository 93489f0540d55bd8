/**
 * The banner for a change that rolls itself back unless confirmed (web-api/rollback.ts): a
 * countdown with Keep and Undo. Keep is sent from the page as it is now, through the new
 * settings: if it gets through, the change did not lock this admin out.
 */
import { api } from './api.ts';
import { h, say } from './dom.ts';

export interface Pending {
  id: string;
  what: string;
  by: string;
  deadline: number;
  seconds: number;
}

let timer: number | undefined;

function banner(): HTMLElement {
  let b = document.getElementById('pending');
  if (!b) {
    b = h('div', { id: 'pending', role: 'alert', hidden: true });
    document.getElementById('main')?.before(b);
  }
  return b;
}

function clear(): void {
  if (timer !== undefined) window.clearInterval(timer);
  timer = undefined;
  const b = banner();
  b.hidden = true;
  b.replaceChildren();
}

/** Shows the waiting change (or hides the banner when none waits). */
export function showPending(p: Pending | null | undefined): void {
  clear();
  if (!p) return;
  const b = banner();
  const left = h('strong', { id: 'pending-left' });
  const tick = (): void => {
    const s = Math.max(0, Math.round((p.deadline - Date.now()) / 1000));
    left.textContent = `${s} s`;
    if (s === 0) {
      clear();
      say(`${p.what} was rolled back (not confirmed in time)`, 'error');
    }
  };
  const keep = h('button', { type: 'button', id: 'pending-keep' }, 'Keep this change');
  keep.addEventListener('click', () => {
    api('POST', '/api/pending/confirm', { id: p.id })
      .then(() => {
        clear();
        say(`Kept: ${p.what}`, 'ok');
      })
      .catch((e: unknown) => say(e instanceof Error ? e.message : String(e), 'error'));
  });
  const undo = h('button', { type: 'button', id: 'pending-undo' }, 'Undo now');
  undo.addEventListener('click', () => {
    api('POST', '/api/pending/rollback', {})
      .then(() => {
        clear();
        say(`Rolled back: ${p.what}`, 'ok');
      })
      .catch((e: unknown) => say(e instanceof Error ? e.message : String(e), 'error'));
  });
  b.replaceChildren(
    h('span', {}, `${p.what} changed: it is rolled back in `),
    left,
    h('span', {}, ' unless you keep it. If this page still works, keep it. '),
    keep,
    ' ',
    undo,
  );
  b.hidden = false;
  tick();
  timer = window.setInterval(tick, 1000);
}

/** After a login or a reload: a change may be waiting from before. */
export async function checkPending(): Promise<void> {
  const r = await api<{ pending: Pending | null }>('GET', '/api/pending');
  showPending(r.pending);
}
