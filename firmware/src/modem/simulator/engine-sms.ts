/** The simulated modem's SMS side: AT+CMGS, the prompt, submission, delivery and status reports. */
import { decodeSubmit, decodeTextModeBody, encodeStatusReport, vpToSeconds } from '../pdu/index.ts';
import type { AtCommand } from './command-line.ts';
import { OK, type Outcome } from './engine-base.ts';
import { EngineNetwork } from './engine-network.ts';
import type { HandsetInbox } from './handset.ts';
import type { Final } from './result-codes.ts';

export abstract class EngineSms extends EngineNetwork {
  // ---- sending ----------------------------------------------------------------------------

  protected cmgs(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    if (c.op !== 'set') return { final: { kind: 'cms', code: this.cmgf === 0 ? 304 : 305 } };
    const bad = this.simCheck('cms');
    if (bad) return { final: bad };
    if (this.cmgf === 0) {
      const len = Number(c.args[0]);
      if (c.args.length > 1 || !Number.isInteger(len) || len < 1 || len > 164)
        return { final: { kind: 'cms', code: 304 } };
      this.o.event('cmgs-command', { length: len });
      return { prompt: { mode: 'pdu', length: len } };
    }
    const to = this.fromTeString(c.args[0] ?? '');
    if (!/^\+?[0-9*#]{1,20}$/.test(to)) return { final: { kind: 'cms', code: 305 } };
    this.o.event('cmgs-command', { to });
    return { prompt: { mode: 'text', to } };
  }

  protected enterPrompt(p: NonNullable<Outcome['prompt']>): void {
    this.prompt = p;
    this.mode = p.mode;
    this.body = '';
    this.write('\r\n> ');
    this.o.event('prompt');
  }

  protected submit(): void {
    const p = this.prompt;
    const body = this.body;
    this.body = '';
    this.mode = 'sending';
    if (!p) return this.finishSend({ kind: 'cms', code: 304 });
    this.o.event('submit-start', p.mode === 'pdu' ? { length: p.length, hex: body } : { to: p.to });
    let part: Parameters<HandsetInbox['deliver']>[0];
    if (p.mode === 'pdu') {
      const hex = body.replace(/\s+/g, '');
      let decoded: ReturnType<typeof decodeSubmit>;
      try {
        decoded = decodeSubmit(hex, { hasSmsc: true });
      } catch {
        this.later(20, () => this.finishSend({ kind: 'cms', code: 304 }));
        return;
      }
      if (decoded.tpduLength !== p.length) {
        this.later(20, () => this.finishSend({ kind: 'cms', code: 304 }));
        return;
      }
      part = {
        to: decoded.to,
        text: decoded.text,
        flash: decoded.flash,
        encoding: decoded.encoding,
        messageReference: 0,
        statusReport: decoded.statusReport,
        ...(decoded.concat ? { concat: decoded.concat } : {}),
        ...(decoded.validitySeconds !== undefined ? { validitySeconds: decoded.validitySeconds } : {}),
      };
    } else {
      part = {
        to: p.to,
        text: decodeTextModeBody(body, this.cscs),
        flash: (this.csmp.dcs & 0x13) === 0x10,
        encoding: 'text-mode',
        messageReference: 0,
        statusReport: (this.csmp.fo & 0x20) !== 0,
        ...((this.csmp.fo & 0x18) === 0x10 ? { validitySeconds: vpToSeconds(this.csmp.vp) } : {}),
      };
    }

    if (!this.smsCapable()) {
      this.later(100, () => this.finishSend({ kind: 'cms', code: 331 }));
      return;
    }
    const mid = this.midSend;
    if (mid) {
      this.midSend = undefined;
      this.later(this.o.smsDelayMs / 2, () => {
        if (mid.delivered === true) this.deliver(part);
        this.o.event('submit-failed', { fault: mid.kind, delivered: mid.delivered === true });
        if (mid.kind === 'reboot-mid-send') this.reboot();
        else this.o.unplug(mid.ms);
      });
      return;
    }
    this.later(this.o.smsDelayMs, () => {
      if (this.hung) {
        // The message is lost with the hang; once cleared the modem takes commands again.
        this.mode = 'command';
        return;
      }
      if (this.p.smsRefusedCode !== undefined && this.stat('creg') !== 1 && this.stat('creg') !== 5)
        return this.finishSend({ kind: 'cms', code: this.p.smsRefusedCode });
      const f = this.cmsFault;
      if (f) {
        if (!f.always) this.cmsFault = undefined;
        return this.finishSend({ kind: 'cms', code: f.code });
      }
      const mr = this.deliver(part);
      this.finishSend(undefined, mr, part);
    });
  }

  protected deliver(part: Parameters<HandsetInbox['deliver']>[0]): number {
    const mr = this.mr;
    this.mr = (this.mr + 1) & 0xff;
    this.o.handset.deliver({ ...part, messageReference: mr });
    return mr;
  }

  protected finishSend(
    error: Final | undefined,
    mr?: number,
    part?: Parameters<HandsetInbox['deliver']>[0],
  ): void {
    this.mode = 'command';
    if (error) {
      this.o.event('submit-failed', { final: error.kind === 'cms' ? error.code : error.kind });
      this.respond([], error);
      return;
    }
    this.o.event('submit-done', { mr, to: part?.to });
    this.respond([`+CMGS: ${mr ?? 0}`], { kind: 'ok' });
    if (part?.statusReport && mr !== undefined) this.scheduleStatusReport(mr, part.to);
  }

  protected scheduleStatusReport(mr: number, to: string): void {
    const ds = this.cnmi[3] ?? 0;
    if (ds === 0) return;
    this.later(Math.max(50, Math.min(this.o.smsDelayMs, 2000)), () => {
      const status = this.reportStatus;
      this.o.event('status-report', { mr, ds, status });
      const now = new Date();
      if (ds === 2) {
        // Stored in SR memory, announced by index; the host reads it with +CMGR and deletes it.
        const index = this.cdsIndex++;
        this.storedReports.set(index, { mr, to, status, at: now });
        this.urc(`+CDSI: "SR",${index}`);
        return;
      }
      if (this.csms === 1) this.acksOutstanding++;
      if (this.cmgf === 0) {
        const r = this.reportPdu(mr, to, status, now);
        this.urc(`+CDS: ${r.tpduLength}\r\n${r.hex}`);
      } else this.urc(`+CDS: ${this.reportText(mr, to, status, now)}`);
    });
  }

  protected reportPdu(mr: number, to: string, status: number, at: Date): { hex: string; tpduLength: number } {
    return encodeStatusReport({
      messageReference: mr,
      recipient: to,
      status,
      submittedAt: at,
      dischargedAt: at,
      smsc: this.smsc.startsWith('+') ? this.smsc : '',
    });
  }

  protected reportText(mr: number, to: string, status: number, at: Date): string {
    const ts = scts(at);
    return `6,${mr},"${to}",${to.startsWith('+') ? 145 : 129},"${ts}","${ts}",${status}`;
  }

  protected cmgr(c: AtCommand): Outcome {
    if (c.op === 'test') return OK;
    const bad = this.simCheck('cms');
    if (bad) return { final: bad };
    const index = Number(c.args[0]);
    const r = this.storedReports.get(index);
    if (!r) return { final: { kind: 'cms', code: 321 } };
    if (this.cmgf === 0) {
      const p = this.reportPdu(r.mr, r.to, r.status, r.at);
      return { lines: [`+CMGR: 0,,${p.tpduLength}`, p.hex] };
    }
    return { lines: [`+CMGR: "REC UNREAD",${this.reportText(r.mr, r.to, r.status, r.at)}`] };
  }
}

function scts(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())},${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}+00`;
}
