/**
 * The simulated modem's brain: bytes in, bytes out, timers. It knows nothing of ptys, so unit
 * tests can drive it in-process; simulator.ts wires it to a real pty. Layered by job:
 * engine-base.ts (state, wire, timers) → engine-network.ts (SIM, network) → engine-sms.ts
 * (sending, reports) → here (power, faults and the command table).
 */
import type { AtCommand } from './command-line.ts';
import { OK, RESTART_SIM_BUSY_MS, type Outcome } from './engine-base.ts';
import { EngineSms } from './engine-sms.ts';
import type { Fault } from './faults.ts';

export { redact, RESTART_SIM_BUSY_MS } from './engine-base.ts';
export type { EngineOptions, SimEvent, SimEventKind } from './engine-base.ts';

export class ModemEngine extends EngineSms {
  /** Power on: settings to defaults, SIM locked again if it has a PIN, boot URCs. */
  boot(kind: 'power-on' | 'restart' = 'power-on'): void {
    this.clearTimers();
    this.stopped = false;
    this.hung = false;
    this.echo = this.p.echoDefault;
    this.verbose = true;
    this.cmee = 0;
    this.cmgf = this.p.pduMode ? 0 : 1;
    this.cscs = 'IRA';
    this.csmp = { fo: 17, vp: 167, pid: 0, dcs: 0 };
    this.cnmi = [0, 0, 0, 0, 0];
    this.csms = 0;
    this.regN = { creg: 0, cgreg: 0, cereg: 0 };
    this.cfun = 1;
    this.zteOnline = false;
    this.periodicOn = true;
    this.mode = 'command';
    this.line = '';
    this.body = '';
    this.queuedLines = [];
    this.queuedUrcs = [];
    this.acksOutstanding = 0;
    this.lastStat = { creg: -1, cgreg: -1, cereg: -1 };
    // A restart (reset, watchdog, replug) always leaves the SIM initialising for a moment, even on
    // profiles whose first power-on is modelled as long settled.
    this.sim.powerOn(
      kind === 'restart'
        ? Math.max(this.p.simBusyAfterBootMs, RESTART_SIM_BUSY_MS)
        : this.p.simBusyAfterBootMs,
    );
    this.regSince = undefined;
    this.maybeStartRegistration();
    this.o.event('boot', { profile: this.p.name });
    for (const u of this.p.bootUrcs)
      if (!u.afterSimReady || this.sim.lock === 'ready')
        this.later(u.afterMs, () => this.urc(u.line.replace('{cpin}', this.cpinWord())));
    if (this.p.periodicUrcs) {
      const { everyMs, lines } = this.p.periodicUrcs;
      let i = 0;
      const tick = (): void => {
        if (this.periodicOn && this.mode === 'command' && this.line === '')
          this.urc(lines[i++ % lines.length] ?? '');
        this.later(everyMs, tick);
      };
      this.later(everyMs, tick);
    }
  }

  /** Stops every timer; the engine ignores input afterwards until boot(). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** A reboot as the firmware does it (AT+CFUN=1,1, a watchdog, a brown-out). */
  reboot(): void {
    this.o.event('reboot');
    this.boot('restart');
  }

  fault(f: Fault): void {
    this.o.event('fault', { ...f });
    switch (f.kind) {
      case 'cms-error':
        this.cmsFault = { code: f.code, always: f.times === 'always' };
        break;
      case 'hang':
        this.hung = true;
        break;
      case 'reboot-mid-send':
      case 'unplug-mid-send':
        this.midSend = f;
        break;
      case 'dead-sim':
        this.sim.dead = true;
        this.updateRegistration();
        break;
      case 'no-network':
        this.noNetwork = true;
        this.updateRegistration();
        break;
      case 'sim-busy':
        this.sim.busyUntil = this.now() + f.ms;
        break;
      case 'sms-busy':
        this.smsBusyUntil = this.now() + f.ms;
        break;
      case 'urc':
        this.urc(f.line);
        break;
      case 'status-report':
        this.reportStatus = f.status & 0xff;
        break;
      case 'registration':
        this.forcedStat = {
          ...(f.creg !== undefined ? { creg: f.creg } : {}),
          ...(f.cgreg !== undefined ? { cgreg: f.cgreg } : {}),
          ...(f.cereg !== undefined ? { cereg: f.cereg } : {}),
        };
        this.updateRegistration();
        break;
      case 'urc-in-reply':
        this.replyUrc = { line: f.line, mode: f.mode };
        break;
      case 'clear':
        this.hung = false;
        this.smsBusyUntil = 0;
        this.sim.dead = false;
        this.noNetwork = false;
        this.cmsFault = undefined;
        this.midSend = undefined;
        this.replyUrc = undefined;
        this.forcedStat = undefined;
        this.reportStatus = 0;
        this.sim.busyUntil = 0;
        this.maybeStartRegistration();
        this.updateRegistration();
        break;
    }
  }

  input(chunk: Uint8Array): void {
    if (this.stopped || this.hung) return;
    for (const b of chunk) {
      try {
        this.byte(b);
      } catch (e) {
        // A simulator bug must not take the test process (or `mfabox sim`) down: answer as a
        // confused modem would, and record it.
        this.mode = 'command';
        this.o.event('error', { error: e instanceof Error ? e.message : String(e) });
        this.write(this.verbose ? '\r\nERROR\r\n' : '4\r');
      }
    }
  }

  // ---- commands ---------------------------------------------------------------------------

  protected execute(c: AtCommand): Outcome {
    const vendorKey =
      c.name +
      (c.op === 'set' ? `=${c.raw.toUpperCase()}` : c.op === 'read' ? '?' : c.op === 'test' ? '=?' : '');
    const canned = this.p.vendor[vendorKey];
    if (canned) {
      if (this.p.periodicUrcs && vendorKey === this.p.periodicUrcs.disabledBy) this.periodicOn = false;
      if (vendorKey === '^CURC=1') this.periodicOn = true;
      return { lines: canned.map((l) => this.fill(l)) };
    }
    const ccidPrefix = this.p.ccid[c.name];
    if (ccidPrefix !== undefined && c.op !== 'test') {
      const bad = this.simCheck('cme');
      return bad ? { final: bad } : { lines: [`${ccidPrefix}${this.o.iccid}`] };
    }
    switch (c.name) {
      case 'E':
        if (c.raw === '0' && this.p.ignoresAte0) return OK;
        this.echo = c.raw !== '0';
        return OK;
      case 'V':
        this.verbose = c.raw !== '0';
        return OK;
      case 'Q':
      case 'X':
      case '&C':
      case '&D':
      case '&K':
      case '&S':
      case '&W':
      case 'L':
      case 'M':
        return OK;
      case 'Z':
      case '&F':
        this.echo = this.p.echoDefault;
        this.verbose = true;
        this.cmee = 0;
        this.cmgf = this.p.pduMode ? 0 : 1;
        return OK;
      case 'I':
        return { lines: this.p.ati.map((l) => this.fill(l)) };
      case 'D':
        return { final: { kind: 'text', text: 'NO CARRIER' } };
      case 'H':
      case 'A':
      case 'O':
        return c.name === 'H' ? OK : { final: { kind: 'text', text: 'NO CARRIER' } };
      case '+CGMI':
      case '+GMI':
        return c.op === 'test' ? OK : { lines: [this.p.manufacturer] };
      case '+CGMM':
      case '+GMM':
        return c.op === 'test' ? OK : { lines: [this.p.model] };
      case '+CGMR':
      case '+GMR':
        return c.op === 'test' ? OK : { lines: [this.p.revision] };
      case '+CGSN':
      case '+GSN':
        return c.op === 'test' ? OK : { lines: [this.o.imei] };
      case '+GCAP':
        return { lines: [this.p.gcap] };
      case '+CMEE':
        return this.intSetting(
          c,
          '+CMEE',
          [0, 2],
          () => this.cmee,
          (v) => (this.cmee = v),
        );
      case '+CSCS':
        if (c.op === 'read') return { lines: [`+CSCS: "${this.cscs}"`] };
        if (c.op === 'test') return { lines: ['+CSCS: ("IRA","GSM","UCS2")'] };
        if (c.op === 'set' && ['IRA', 'GSM', 'UCS2'].includes((c.args[0] ?? '').toUpperCase())) {
          this.cscs = (c.args[0] ?? '').toUpperCase();
          return OK;
        }
        return { final: { kind: 'cme', code: 4 } };
      case '+CPIN':
        return this.cpin(c);
      case '+CPINR':
      case '^CPIN':
      case '+QPINC':
      case '+SPIC':
        return this.pinTriesQuery(c);
      case '+CIMI':
        return this.simCheck('cme')
          ? { final: this.simCheck('cme') ?? { kind: 'error' } }
          : { lines: ['001010123456789'] };
      case '+CREG':
      case '+CGREG':
      case '+CEREG':
        return this.reg(c);
      case '+COPS':
        return this.cops(c);
      case '+CSQ':
        if (c.op === 'test') return { lines: ['+CSQ: (0-31,99),(0-7,99)'] };
        return {
          lines: [
            !this.noNetwork && this.cfun === 1 && this.regSince !== undefined
              ? `+CSQ: ${this.p.rssi},99`
              : '+CSQ: 99,99',
          ],
        };
      case '+CFUN':
        return this.cfunCmd(c);
      case '+CMGF':
        return this.cmgfCmd(c);
      case '+CSCA': {
        const bad = this.simCheck('cms') ?? this.smsBusy();
        if (bad) return { final: bad };
        // String parameters travel in the TE character set: hex UTF-16 after AT+CSCS="UCS2" (Gammu tests/at-smsc).
        if (c.op === 'read')
          return { lines: [`+CSCA: "${this.teString(this.smsc)}",${this.smsc.startsWith('+') ? 145 : 129}`] };
        if (c.op === 'set') this.smsc = this.fromTeString(c.args[0] ?? '');
        return OK;
      }
      case '+CSMP':
        if (c.op === 'read')
          return { lines: [`+CSMP: ${this.csmp.fo},${this.csmp.vp},${this.csmp.pid},${this.csmp.dcs}`] };
        if (c.op === 'set') {
          const [fo, vp, pid, dcs] = c.args.map((a) => (a === '' ? undefined : Number(a)));
          this.csmp = {
            fo: fo ?? this.csmp.fo,
            vp: vp ?? this.csmp.vp,
            pid: pid ?? this.csmp.pid,
            dcs: dcs ?? this.csmp.dcs,
          };
        }
        return OK;
      case '+CSDH':
        return OK;
      case '+CMGD':
        if (c.op === 'set') this.storedReports.delete(Number(c.args[0]));
        return OK;
      case '+CMGL':
        return this.simCheck('cms') ? { final: this.simCheck('cms') ?? { kind: 'error' } } : OK;
      case '+CMGR':
        return this.cmgr(c);
      case '+CPMS':
        if (c.op === 'read') return { lines: ['+CPMS: "SM",0,30,"SM",0,30,"SM",0,30'] };
        if (c.op === 'test') return { lines: ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")'] };
        return { lines: ['+CPMS: 0,30,0,30,0,30'] };
      case '+CNMI':
        return this.cnmiCmd(c);
      case '+CNMA':
        if (c.op === 'test') return OK;
        if (this.acksOutstanding > 0) {
          this.acksOutstanding--;
          return OK;
        }
        return { final: { kind: 'cms', code: 340 } };
      case '+CSMS':
        if (c.op === 'read') return { lines: [`+CSMS: ${this.csms},1,1,1`] };
        if (c.op === 'test') return { lines: ['+CSMS: (0,1)'] };
        if (c.op === 'set' && (c.args[0] === '0' || c.args[0] === '1')) {
          this.csms = Number(c.args[0]);
          return { lines: ['+CSMS: 1,1,1'] };
        }
        return { final: { kind: 'cms', code: 303 } };
      case '+CMMS':
        if (this.p.cmmsError !== undefined && c.op === 'set')
          return { final: { kind: 'cms', code: this.p.cmmsError } };
        return c.op === 'read' ? { lines: ['+CMMS: 0'] } : OK;
      case '+CMGS':
        return this.cmgs(c);
      case '+ZCDRUN':
        if (!this.p.requiresZteInit) return this.unknown();
        return { lines: ['Close autorun state result(0:FAIL 1:SUCCESS):1'] };
      case '+ZOPRT':
        if (!this.p.requiresZteInit) return this.unknown();
        if (c.op === 'read') return { lines: [`+ZOPRT: ${this.zteOnline ? 5 : 6}`] };
        if (c.op === 'set') {
          this.zteOnline = c.args[0] === '5';
          this.maybeStartRegistration();
          this.updateRegistration();
        }
        return OK;
      default:
        return this.unknown();
    }
  }
}
