/** The simulated modem's SIM (PIN, tries left) and network (registration, CFUN, SMS mode) commands. */
import type { AtCommand } from './command-line.ts';
import { ACT, EngineBase, OK, type Outcome } from './engine-base.ts';
import type { SimProfile } from './profiles.ts';
import type { Final } from './result-codes.ts';

export abstract class EngineNetwork extends EngineBase {
  // ---- SIM --------------------------------------------------------------------------------

  protected cpinWord(): string {
    return this.sim.word();
  }

  /** An error a SIM-dependent command gets now, or undefined when the SIM is usable. */
  protected simCheck(kind: 'cme' | 'cms'): Final | undefined {
    return this.sim.error(kind);
  }

  protected cpin(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    if (this.sim.dead) return { final: { kind: 'cme', code: 13 } };
    if (this.sim.busy) return { final: { kind: 'cme', code: 14 } };
    if (c.op === 'read' || c.op === 'exec') {
      if (this.sim.lock === 'blocked') return { final: { kind: 'cme', code: 13 } };
      const w = this.cpinWord();
      const line =
        this.p.cpinStyle === 'quoted'
          ? `+CPIN: "${w}"`
          : this.p.cpinStyle === 'nospace'
            ? `+CPIN:${w}`
            : `+CPIN: ${w}`;
      return this.p.cpinNoOk ? { lines: [line], final: { kind: 'none' } } : { lines: [line] };
    }
    const [code, newPin] = c.args;
    switch (this.sim.enter(code, newPin)) {
      case 'unlocked':
        this.simReady();
        return OK;
      case 'wrong':
        return { final: { kind: 'cme', code: 16 } };
      case 'blocked':
        return { final: { kind: 'cme', code: 13 } };
      case 'not-locked':
        return { final: { kind: 'cme', code: 3 } };
    }
  }

  protected simReady(): void {
    this.sim.busyUntil = this.now() + this.p.simBusyAfterPinMs;
    this.maybeStartRegistration();
    for (const u of this.p.bootUrcs) if (u.afterSimReady) this.later(u.afterMs, () => this.urc(u.line));
  }

  protected pinTriesQuery(c: AtCommand): Outcome {
    const kind = c.name as SimProfile['pinTries'][number];
    if (!this.p.pinTries.includes(kind)) return this.unknown();
    if (c.op === 'test') return OK;
    if (this.sim.dead) return { final: { kind: 'cme', code: 13 } };
    const pin = this.sim.pinTriesLeft;
    switch (kind) {
      case '+CPINR': {
        const all = [
          `+CPINR: SIM PIN,${pin},3`,
          `+CPINR: SIM PUK,${this.sim.pukTries},10`,
          '+CPINR: SIM PIN2,3,3',
          '+CPINR: SIM PUK2,10,10',
        ];
        const want = (c.args[0] ?? '').toUpperCase();
        return { lines: want === '' ? all : all.filter((l) => l.startsWith(`+CPINR: ${want},`)) };
      }
      case '^CPIN':
        return {
          lines: [
            `^CPIN: ${this.cpinWord()},${this.sim.lock === 'ready' ? '' : this.sim.lock === 'pin' ? pin : this.sim.pukTries},${this.sim.pukTries},${pin},10,3`,
          ],
        };
      case '+QPINC':
        return { lines: [`+QPINC: "SC",${pin},${this.sim.pukTries}`, '+QPINC: "P2",3,10'] };
      case '+SPIC':
        return { lines: [`+SPIC: ${pin},${this.sim.pukTries},3,10`] };
    }
  }

  // ---- network ----------------------------------------------------------------------------

  protected maybeStartRegistration(): void {
    const can = this.cfun === 1 && this.sim.usable && (!this.p.requiresZteInit || this.zteOnline);
    if (!can) {
      this.regSince = undefined;
      return;
    }
    if (this.regSince !== undefined) return;
    this.regSince = this.now();
    this.updateRegistration();
    const at = Math.max(this.regSince + this.p.registerAfterMs, this.sim.busyUntil);
    // Timers may fire a little before the monotonic clock says so: check, and wait again if early.
    const check = (): void => {
      if (this.now() < at) this.later(Math.max(1, at - this.now()), check);
      else this.updateRegistration();
    };
    this.later(Math.max(1, at - this.now()), check);
  }

  protected stat(kind: 'creg' | 'cgreg' | 'cereg'): number {
    if (this.regSince === undefined || this.sim.dead || this.cfun !== 1) return 0;
    if (this.noNetwork) return 2;
    const forced = this.forcedStat?.[kind];
    if (forced !== undefined) return forced;
    if (this.sim.busy || this.now() - this.regSince < this.p.registerAfterMs)
      return this.p.regStat[kind] === 0 ? 0 : 2;
    return this.p.regStat[kind];
  }

  protected registered(): boolean {
    return [this.stat('creg'), this.stat('cgreg'), this.stat('cereg')].some(
      (s) => s === 1 || s === 5 || s === 6 || s === 7,
    );
  }

  /** Whether the network takes SMS: circuit-switched (CREG) or SMS over LTE (CEREG incl. SMS only). */
  protected smsCapable(): boolean {
    const creg = this.stat('creg');
    const cereg = this.stat('cereg');
    return (
      creg === 1 ||
      creg === 5 ||
      cereg === 1 ||
      cereg === 5 ||
      cereg === 6 ||
      cereg === 7 ||
      this.stat('cgreg') === 1
    );
  }

  protected updateRegistration(): void {
    for (const kind of ['creg', 'cgreg', 'cereg'] as const) {
      const s = this.stat(kind);
      if (s === this.lastStat[kind]) continue;
      this.lastStat[kind] = s;
      const n = this.regN[kind];
      if (n >= 1) this.urc(this.regLine(kind, n, true));
    }
  }

  protected regLine(kind: 'creg' | 'cgreg' | 'cereg', n: number, unsolicited: boolean): string {
    const name = `+${kind.toUpperCase()}`;
    const s = this.stat(kind);
    const loc =
      n >= 2 && (s === 1 || s === 5 || s === 6 || s === 7) ? `,"00A1","0001ABCD",${ACT[this.p.rat]}` : '';
    return unsolicited ? `${name}: ${s}${loc}` : `${name}: ${n},${s}${loc}`;
  }

  protected reg(c: AtCommand): Outcome {
    const kind = c.name.slice(1).toLowerCase() as 'creg' | 'cgreg' | 'cereg';
    if (c.op === 'test') return { lines: [`${c.name}: (0-2)`] };
    if (c.op === 'read') return { lines: [this.regLine(kind, this.regN[kind], false)] };
    if (c.op === 'set') {
      const n = Number(c.args[0]);
      if (c.args.length > 1) return this.tooMany();
      if (!Number.isInteger(n) || n < 0 || n > 2) return { final: { kind: 'cme', code: 3 } };
      this.regN[kind] = n;
      return OK;
    }
    return { lines: [this.regLine(kind, this.regN[kind], false)] };
  }

  protected cops(c: AtCommand): Outcome {
    if (c.op === 'test')
      return { lines: [`+COPS: (2,"${this.p.operator}","MFA","00101",${ACT[this.p.rat]}),,(0-4),(0-2)`] };
    if (c.op === 'set') return OK;
    return { lines: [this.registered() ? `+COPS: 0,0,"${this.p.operator}",${ACT[this.p.rat]}` : '+COPS: 0'] };
  }

  protected cfunCmd(c: AtCommand): Outcome {
    if (c.op === 'read') return { lines: [`+CFUN: ${this.cfun}`] };
    if (c.op === 'test') return { lines: ['+CFUN: (0,1,4),(0-1)'] };
    if (c.op !== 'set') return { final: { kind: 'error' } };
    const fun = Number(c.args[0]);
    const reset = c.args[1] === '1';
    if (![0, 1, 4].includes(fun)) return { final: { kind: 'cme', code: 4 } };
    if (reset)
      return {
        after: () => {
          if (this.p.resetDropsAtPort) {
            this.later(50, () => this.o.unplug('forever'));
            return;
          }
          this.later(50, () => this.reboot());
        },
      };
    this.cfun = fun;
    this.maybeStartRegistration();
    this.updateRegistration();
    return OK;
  }

  protected smsBusy(): Final | undefined {
    return this.now() < this.smsBusyUntil ? { kind: 'cms', code: 314 } : undefined;
  }

  protected cmgfCmd(c: AtCommand): Outcome {
    const modes = [...(this.p.pduMode ? [0] : []), ...(this.p.textMode ? [1] : [])];
    if (c.op === 'read') return { lines: [`+CMGF: ${this.cmgf}`] };
    if (c.op === 'test') return { lines: [`+CMGF: (${modes.join(',')})`] };
    if (c.op === 'set') {
      if (c.args.length > 1) return this.tooMany();
      const busy = this.smsBusy();
      if (busy) return { final: busy };
      const v = Number(c.args[0]);
      if (!modes.includes(v)) return { final: { kind: 'error' } };
      this.cmgf = v;
    }
    return OK;
  }

  protected cnmiCmd(c: AtCommand): Outcome {
    if (c.op === 'read') return { lines: [`+CNMI: ${this.cnmi.join(',')}`] };
    if (c.op === 'test') return { lines: ['+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)'] };
    if (c.op !== 'set') return OK;
    const v = c.args.map((a) => (a === '' ? 0 : Number(a)));
    const max = [2, 3, 3, 2, 1];
    if (v.length > 5) return this.tooMany();
    if (v.some((x, i) => !Number.isInteger(x) || x < 0 || x > (max[i] ?? 0)))
      return { final: { kind: 'cms', code: 303 } };
    if (this.p.rejectsCnmiDs1 && v[3] === 1) return { final: { kind: 'cms', code: 303 } };
    this.cnmi = [0, 1, 2, 3, 4].map((i) => v[i] ?? this.cnmi[i] ?? 0);
    return OK;
  }
}
