/** Test doubles for the outbox: a fake clock with manual timers, and a scripted SmsSender. */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../../firmware/src/clock.ts';
import type { Timers } from '../../../firmware/src/clock.ts';
import type {
  ModemHealth,
  SmsSendOptions,
  SmsSendResult,
  SmsSender,
} from '../../../firmware/src/modem/types.ts';

export class FakeClock implements Clock, Timers {
  wall = Date.UTC(2026, 0, 1, 12, 0, 0);
  mono = 1_000_000;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private nextId = 1;

  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.mono + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  /** Moves both clocks forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.wall += due.at - this.mono;
      this.mono = due.at;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }
  pendingTimers(): number {
    return this.timers.length;
  }
}

export interface SendCall {
  to: string;
  text: string;
  opts: SmsSendOptions;
  /** beforeSubmit resolved: the modem wrote Ctrl-Z. */
  submitted: boolean;
  settled: boolean;
}

/**
 * What the fake modem does with one call. Default: prompt, beforeSubmit, Ctrl-Z, success.
 * `fail` rejects with `error` before the prompt, or after Ctrl-Z with `afterSubmit`.
 */
export type Behaviour =
  | { kind: 'ok'; modem?: string }
  | { kind: 'fail'; error: Error; afterSubmit?: boolean }
  /** Stays in flight until `release()` (after beforeSubmit if `afterSubmit`). */
  | { kind: 'hold'; afterSubmit?: boolean };

export class FakeSender extends EventEmitter implements SmsSender {
  calls: SendCall[] = [];
  script: Behaviour[] = [];
  modems: ModemHealth[] = [health('m1', 'registered')];
  private holds: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private mr = 0;

  async send(to: string, text: string, opts: SmsSendOptions): Promise<SmsSendResult> {
    const call: SendCall = { to, text, opts, submitted: false, settled: false };
    this.calls.push(call);
    const b = this.script.shift() ?? { kind: 'ok' };
    try {
      await Promise.resolve();
      opts.onCommand?.(); // AT+CMGS is on the wire; the prompt (or a refusal) comes next
      if (b.kind === 'fail' && !b.afterSubmit) throw b.error;
      if (b.kind === 'hold' && !b.afterSubmit) await this.hold();
      await opts.beforeSubmit?.();
      call.submitted = true;
      if (b.kind === 'fail') throw b.error;
      if (b.kind === 'hold' && b.afterSubmit) await this.hold();
      return { messageRefs: [++this.mr], modem: b.kind === 'ok' && b.modem ? b.modem : 'm1' };
    } finally {
      call.settled = true;
    }
  }
  private hold(): Promise<void> {
    return new Promise((resolve, reject) => this.holds.push({ resolve, reject }));
  }
  /** Lets the oldest held call go on. */
  release(n = 1): void {
    for (let i = 0; i < n; i++) this.holds.shift()?.resolve();
  }
  /** Rejects every held call, as a stopping pool does with the sends it still has. */
  abortAll(error: Error): void {
    for (const h of this.holds.splice(0)) h.reject(error);
  }
  get held(): number {
    return this.holds.length;
  }
  ready(): boolean {
    return this.modems.some((m) => m.state === 'registered' || m.state === 'sending');
  }
  expectedWaitMs(queued: number): number {
    return this.ready() ? queued * 1000 : Infinity;
  }
  health(): ModemHealth[] {
    return this.modems;
  }
  onHealth(listener: (h: ModemHealth[]) => void): () => void {
    this.on('health', listener);
    return () => this.off('health', listener);
  }
  setModems(m: ModemHealth[]): void {
    this.modems = m;
    this.emit('health', m);
  }
  /** Calls that reached Ctrl-Z, per text. */
  submittedTexts(): string[] {
    return this.calls.filter((c) => c.submitted).map((c) => c.text);
  }
}

export function health(name: string, state: ModemHealth['state']): ModemHealth {
  return { name, state, sentCount: 0, failedCount: 0 };
}
