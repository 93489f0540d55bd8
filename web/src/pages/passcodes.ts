/** Passcodes and messages: the SMS template with a live preview and part count, and flash SMS. */
import { h } from '../dom.ts';
import { fail, getConfig, patchConfig, show } from '../page.ts';
import { smsParts } from '../sms.ts';

export async function passcodesPage(): Promise<void> {
  const v = await getConfig();
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
