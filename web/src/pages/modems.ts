/**
 * Modems: each one's state, signal, operator and counters, the send queue, and add / edit / remove
 * (port from /dev/serial/by-id, profile, SIM PIN write-only, rate limit), applied live by the pool;
 * Probe asks a running modem afresh for its identity, SIM, registration and signal.
 */
import { api } from '../api.ts';
import { h, say, table } from '../dom.ts';
import {
  type ModemConfig,
  type ModemHealth,
  fail,
  getConfig,
  getHealth,
  patchConfig,
  secretState,
  secretValue,
  show,
  signal,
} from '../page.ts';

export async function modemsPage(): Promise<void> {
  const [v, health, ports, profiles] = await Promise.all([
    getConfig(),
    getHealth(),
    api<{ ports: string[] }>('GET', '/api/modems/ports'),
    api<{ profiles: string[] }>('GET', '/api/modems/profiles'),
  ]);
  const modems = v.config.modems;
  const configured = new Map(modems.map((m) => [m.name, m]));
  let editing: ModemConfig | undefined;

  const name = h('input', { id: 'modem-name', required: true, placeholder: 'usb0' });
  const path = h('input', {
    id: 'modem-path',
    required: true,
    list: 'modem-ports',
    placeholder: '/dev/serial/by-id/usb-…-if00-port0',
  });
  const portList = h('datalist', { id: 'modem-ports' }, ...ports.ports.map((p) => h('option', { value: p })));
  const profile = h(
    'select',
    { id: 'modem-profile' },
    ...profiles.profiles.map((p) => h('option', { value: p }, p)),
  );
  const pin = h('input', {
    id: 'modem-pin',
    type: 'password',
    inputmode: 'numeric',
    autocomplete: 'off',
    pattern: '\\d{4,8}',
  });
  const rate = h('input', { id: 'modem-rate', type: 'number', min: '1', max: '60', value: '10' });
  const baud = h('input', { id: 'modem-baud', type: 'number', min: '1', value: '115200' });
  const rtscts = h('input', { id: 'modem-rtscts', type: 'checkbox' });
  const title = h('h2', {}, 'Add a modem');
  const submit = h('button', { type: 'submit', id: 'modem-save' }, 'Add');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const removePin = h('input', { id: 'modem-pin-remove', type: 'checkbox' });
  const removePinLabel = h('label', { hidden: true }, removePin, ' Remove the stored PIN');

  const fill = (m: ModemConfig | undefined): void => {
    editing = m;
    name.value = m?.name ?? '';
    path.value = m?.path ?? '';
    profile.value = m?.profile ?? 'auto';
    pin.value = '';
    pin.placeholder = m ? `${secretState(m.pin)}; leave empty to keep` : 'only if the SIM has a PIN';
    removePin.checked = false;
    removePinLabel.hidden = !(typeof m?.pin === 'object' && m.pin.set);
    rate.value = String(m?.maxPerMinute ?? 10);
    baud.value = String(m?.baudRate ?? 115200);
    rtscts.checked = m?.rtscts ?? false;
    title.textContent = m ? `Edit ${m.name}` : 'Add a modem';
    submit.textContent = m ? 'Save changes' : 'Add';
    cancel.hidden = m === undefined;
    if (m) name.focus();
  };
  cancel.addEventListener('click', () => fill(undefined));
  fill(undefined);

  const form = h(
    'form',
    { id: 'modem-form' },
    title,
    h('label', {}, 'Name ', name),
    h('label', {}, 'Port ', path, portList),
    h('label', {}, 'Profile ', profile),
    h('label', {}, 'SIM PIN (4–8 digits) ', pin),
    removePinLabel,
    h('label', {}, 'SMS per minute (the operator’s limit per SIM) ', rate),
    h('label', {}, 'Baud rate ', baud),
    h('label', {}, rtscts, ' Hardware flow control (RTS/CTS)'),
    submit,
    cancel,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const old = editing;
    const p = removePin.checked ? undefined : secretValue(pin.value, old?.pin);
    const m: Record<string, unknown> = {
      name: name.value.trim(),
      path: path.value.trim(),
      profile: profile.value,
      maxPerMinute: Number(rate.value),
      baudRate: Number(baud.value),
      rtscts: rtscts.checked,
      ...(p === undefined ? {} : { pin: p }),
    };
    const next = old ? modems.map((x) => (x === old ? m : x)) : [...modems, m];
    patchConfig({ modems: next }).then(modemsPage).catch(fail);
  });

  const testTo = h('input', {
    id: 'modem-test-to',
    type: 'tel',
    placeholder: '+15550000001',
    'aria-label': 'Number for a test SMS',
  });
  const testSend = (name: string): void => {
    say(`Sending a test SMS through ${name}…`);
    api<{ modem: string; parts: number }>('POST', `/api/modems/${encodeURIComponent(name)}/test-send`, {
      to: testTo.value,
    })
      .then((r) => say(`Test SMS sent through ${r.modem}`, 'ok'))
      .catch(fail);
  };

  const probeOut = h('pre', { id: 'modem-probe', hidden: true });
  const probe = (name: string): void => {
    say(`Probing ${name}…`);
    api<ProbeReport>('POST', `/api/modems/${encodeURIComponent(name)}/probe`)
      .then((r) => {
        const id = r.identity;
        probeOut.textContent = [
          `${name}: ${[id.manufacturer, id.model].filter(Boolean).join(' ') || 'model unknown'}${id.revision ? ` (${id.revision})` : ''}`,
          `IMEI ${id.imei ?? 'unknown'}; SIM ${r.sim}${id.iccid ? ` (ICCID ${id.iccid})` : ''}`,
          `Registration: ${r.registration}; operator ${r.operator ?? 'none'}`,
          `Signal: ${r.bars === undefined ? 'unknown' : `${r.bars}/5`}${r.dbm === undefined ? '' : ` (${r.dbm} dBm)`}`,
          `Profile ${r.profile}; ${r.textMode ? 'text' : 'PDU'} mode; SMS centre ${r.smsc ?? 'not set'}`,
        ].join('\n');
        probeOut.hidden = false;
        say(`Probed ${name}`, 'ok');
      })
      .catch(fail);
  };

  const q = health.outbox;
  show(
    h('h1', {}, 'Modems'),
    h(
      'p',
      { id: 'modem-queue' },
      q
        ? `Queue: ${q.queued} waiting, ${q.inFlight} sending; ${q.sent} sent, ${q.failed} failed, ${q.expired} expired`
        : 'Queue: not running',
    ),
    h('label', {}, 'Test SMS to ', testTo),
    table(
      ['Name', 'Port', 'State', 'Signal', 'Operator', 'PIN', 'Per minute', 'Sent', 'Failed', ''],
      [
        ...health.modems,
        // Just added: the pool is still opening it.
        ...modems
          .filter((m) => !health.modems.some((x) => x.name === m.name))
          .map((m) => ({ name: m.name, state: 'starting', sentCount: 0, failedCount: 0 })),
      ].map((hm: ModemHealth) => {
        const m = configured.get(hm.name);
        return [
          hm.name,
          m?.path ?? 'built-in simulator (demo)',
          `${hm.state}${hm.detail ? ` — ${hm.detail}` : ''}`,
          signal(hm),
          `${hm.operator ?? ''}${hm.roaming ? ' (roaming)' : ''}`,
          m ? secretState(m.pin) : '',
          m ? String(m.maxPerMinute) : '',
          String(hm.sentCount),
          String(hm.failedCount),
          h(
            'span',
            {},
            h('button', { type: 'button', 'data-probe': hm.name, onclick: () => probe(hm.name) }, 'Probe'),
            ' ',
            h(
              'button',
              { type: 'button', 'data-test-send': hm.name, onclick: () => testSend(hm.name) },
              'Test send',
            ),
            m ? ' ' : '',
            m
              ? h(
                  'span',
                  {},
                  h('button', { type: 'button', 'data-edit': m.name, onclick: () => fill(m) }, 'Edit'),
                  ' ',
                  h(
                    'button',
                    {
                      type: 'button',
                      'data-remove': m.name,
                      onclick: () => {
                        if (confirm(`Remove the modem ${m.name}?`))
                          patchConfig({ modems: modems.filter((x) => x !== m) })
                            .then(modemsPage)
                            .catch(fail);
                      },
                    },
                    'Remove',
                  ),
                )
              : '',
          ),
        ];
      }),
    ),
    probeOut,
    form,
  );
}

interface ProbeReport {
  identity: { manufacturer?: string; model?: string; revision?: string; imei?: string; iccid?: string };
  profile: string;
  sim: string;
  registration: string;
  operator?: string;
  dbm?: number;
  bars?: number;
  smsc?: string;
  textMode: boolean;
}
