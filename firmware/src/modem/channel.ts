/**
 * The AT channel: one command in flight per modem (a queue of concurrency 1, like
 * zigbee-herdsman's Queue), a waiter that matches the final result to the command that asked
 * (its Waitress), and a timeout per command class.
 *
 * Sending holds the channel from `AT+CMGS=` until the final result: anything written before
 * Ctrl-Z would become message text, and a late reply could satisfy the next command. A send that
 * has not gone out is abandoned with ESC only (Ctrl-Z would *send* the buffer), then the input is
 * drained so a late `OK` or `+CMS ERROR` cannot be taken for the next command's result.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';
import { SerialQueue } from '../queue.ts';
import type { ModemTransport } from './transport.ts';
import { AtFramer, type FinalResult, type FramerEvent } from './at/framer.ts';
import { redactCommand, strayShape } from './at/redact.ts';

const log = logger('modem:at');

export const ESC = '\x1b';

function asError(e: unknown): Error {
  return e instanceof Error ? e : new MfaError(String(e), ErrorCode.ModemClosed, { cause: e });
}
export const CTRL_Z = '\x1a';

/** Timeouts per command class, all in ms. */
export interface ChannelTimeouts {
  /** [500...30000] ms, default 5000: ordinary commands (AT, +CSQ, +CREG?). */
  basic: number;
  /** [2000...60000] ms, default 10000: from AT+CMGS= to the `> ` prompt. */
  prompt: number;
  /** [10000...300000] ms, default 90000: from Ctrl-Z to +CMGS/+CMS ERROR (the network's time). */
  send: number;
  /** [5000...300000] ms, default 60000: AT+CFUN, AT+COPS, PIN entry (the radio or SIM restarts). */
  slow: number;
  /** [50...2000] ms, default 250: silence that ends a drain after an abandoned command. */
  drainQuiet: number;
  /** [100...10000] ms, default 2000: longest drain, in case the modem never goes quiet. */
  drainMax: number;
}

export const DEFAULT_TIMEOUTS: ChannelTimeouts = {
  basic: 5000,
  prompt: 10000,
  send: 90000,
  slow: 60000,
  drainQuiet: 250,
  drainMax: 2000,
};

export type CommandClass = 'basic' | 'slow';

export interface CommandOptions {
  /** Which timeout applies; default basic. */
  class?: CommandClass;
  /** Overrides the class timeout, ms. */
  timeoutMs?: number;
  /** The command carries a secret (AT+CPIN="1234"): log its verb only. */
  secret?: boolean;
  /**
   * Some modems answer this command without a final OK (Wavecom, Sierra: +CPIN? → +CPIN: READY).
   * Lines starting with this prefix, followed by `noFinalGraceMs` of silence, count as success.
   */
  finalOptionalAfter?: string;
  /** [50...2000] ms, default 300: see finalOptionalAfter. */
  noFinalGraceMs?: number;
}

export interface AtResponse {
  /** Information-text lines of the reply, in order (echo and URCs removed). */
  lines: string[];
  final: FinalResult;
}

/**
 * Commands as the parts of a modem run them: through the modem's hang count (see Modem.exec),
 * not straight on the channel.
 */
export interface AtCommands {
  exec(command: string, opts?: CommandOptions): Promise<AtResponse>;
  /** A command that may fail harmlessly: the response when it ended in OK, else undefined. */
  tryExec(command: string): Promise<AtResponse | undefined>;
}

export interface SubmitResult {
  response: AtResponse;
  /** True once Ctrl-Z was written: from then on, a failure has an unknown outcome. */
  submitted: boolean;
}

export interface SubmitOptions {
  promptTimeoutMs?: number;
  sendTimeoutMs?: number;
  /** Awaited between the prompt and Ctrl-Z; a rejection abandons the send with ESC. */
  beforeSubmit?: () => Promise<void>;
  /** Called right before the command is written (see SmsSendOptions.onCommand). */
  onCommand?: () => void;
}

interface Waiter {
  lines: string[];
  wantPrompt: boolean;
  onPrompt?: () => void;
  onFinal: (r: AtResponse) => void;
  /** The port went away while waiting. */
  onError: (e: MfaError) => void;
  /** Called on every chunk of input while waiting. */
  onData?: () => void;
}

/**
 * Emits 'urc' (FramerEvent of type urc) for every unsolicited code, and 'stray' (string) for
 * lines and finals that arrived with nothing waiting (their shape logged, then ignored). A stray
 * line may be a late echo holding a PIN or passcode: listeners must never log its text.
 */
export class AtChannel extends EventEmitter {
  readonly timeouts: ChannelTimeouts;
  private readonly framer = new AtFramer();
  private readonly queue = new SerialQueue();
  private waiter: Waiter | undefined;
  private lastByteAt = 0;
  private closedError: MfaError | undefined;
  /** Set by quiesce(): jobs that have not started yet are refused with it. */
  private refusing: MfaError | undefined;
  /**
   * The submit in flight, by stage. Between the prompt and Ctrl-Z nothing is waited on (the
   * caller's beforeSubmit runs), so an abort there is recorded in `abort` and honoured right
   * before the payload would be written.
   */
  private inSubmit: { stage: 'prompt' | 'before' | 'sent'; abort?: MfaError } | undefined;
  /** Commands run, for tests and the bench. */
  commandCount = 0;

  constructor(
    private readonly transport: ModemTransport,
    timeouts: Partial<ChannelTimeouts> = {},
  ) {
    super();
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
    transport.on('data', (chunk) => this.onData(chunk));
    transport.on('close', (err) => this.onClosed(err));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Runs one command (without the trailing CR). Resolves with the final, even an error final. */
  exec(command: string, opts: CommandOptions = {}): Promise<AtResponse> {
    return this.enqueue(() => this.runCommand(command, opts));
  }

  /**
   * AT+CMGS (or +CMGW): waits for the prompt, awaits beforeSubmit, writes the payload and Ctrl-Z,
   * waits for the final. A final instead of the prompt resolves with that final (nothing sent).
   */
  submit(command: string, payload: string, opts: SubmitOptions = {}): Promise<SubmitResult> {
    return this.enqueue(() => this.runSubmit(command, payload, opts));
  }

  /** Writes ESC (leaves a stuck prompt without sending) and drains; queued like a command. */
  escape(): Promise<void> {
    return this.enqueue(async () => {
      await this.write(ESC);
      await this.drain();
    });
  }

  /**
   * Stops taking work for a graceful stop: jobs not started are refused with `err`, a command or a
   * submit not yet past Ctrl-Z is abandoned (ESC for a submit), and a submit past Ctrl-Z is left to
   * get its final. Resolves when the channel is idle (bounded by that submit's send timeout).
   */
  quiesce(err: MfaError): Promise<void> {
    this.refusing ??= err;
    if (this.inSubmit?.stage !== 'sent') this.abortInFlight(err);
    return this.queue.idle();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(() => (this.refusing ? Promise.reject(this.refusing) : work()));
  }

  private async write(data: string): Promise<void> {
    if (this.closedError) throw this.closedError;
    await this.transport.write(Buffer.from(data, 'latin1'));
  }

  private timeoutFor(opts: CommandOptions): number {
    return opts.timeoutMs ?? (opts.class === 'slow' ? this.timeouts.slow : this.timeouts.basic);
  }

  private async runCommand(command: string, opts: CommandOptions): Promise<AtResponse> {
    this.commandCount++;
    // Redacted by verb too, so a caller that forgets `secret` cannot leak a PIN.
    const shown = opts.secret ? command.replace(/=.*$/s, '=[redacted]') : redactCommand(command);
    log.debug({ cmd: shown }, 'at command');
    const timeoutMs = this.timeoutFor(opts);
    const started = performance.now();
    try {
      return await new Promise<AtResponse>((resolve, reject) => {
        let graceTimer: NodeJS.Timeout | undefined;
        const timer = setTimeout(() => {
          this.settle();
          reject(
            new MfaError(`${shown}: no answer in ${timeoutMs} ms`, ErrorCode.ModemTimeout, {
              flags: { retryable: true },
            }),
          );
        }, timeoutMs);
        const waiter: Waiter = {
          lines: [],
          wantPrompt: false,
          onFinal: (r) => {
            clearTimeout(timer);
            clearTimeout(graceTimer);
            resolve(r);
          },
          onError: (e) => {
            clearTimeout(timer);
            clearTimeout(graceTimer);
            reject(e);
          },
        };
        if (opts.finalOptionalAfter !== undefined) {
          const prefix = opts.finalOptionalAfter;
          // The framer holds a reply line until the next one arrives; after a quiet spell,
          // release it and accept the reply if it is the one that may come without OK.
          waiter.onData = () => {
            clearTimeout(graceTimer);
            graceTimer = setTimeout(() => {
              if (this.waiter !== waiter) return;
              this.emitAll(this.framer.flush());
              if (this.waiter !== waiter || !waiter.lines.some((l) => l.startsWith(prefix))) return;
              clearTimeout(timer);
              this.settle();
              resolve({ lines: waiter.lines, final: { ok: true, text: 'OK' } });
            }, opts.noFinalGraceMs ?? 300);
          };
        }
        this.waiter = waiter;
        this.framer.expect({ echo: command });
        this.write(`${command}\r`).catch((e: unknown) => {
          clearTimeout(timer);
          this.settle();
          reject(asError(e));
        });
      });
    } catch (e) {
      if (e instanceof MfaError && e.code === ErrorCode.ModemTimeout) await this.drain();
      throw e;
    } finally {
      log.trace({ cmd: shown, ms: Math.round(performance.now() - started) }, 'at done');
    }
  }

  private async runSubmit(command: string, payload: string, opts: SubmitOptions): Promise<SubmitResult> {
    const state: NonNullable<AtChannel['inSubmit']> = { stage: 'prompt' };
    this.inSubmit = state;
    try {
      return await this.runSubmitStages(command, payload, opts, state);
    } finally {
      this.inSubmit = undefined;
    }
  }

  private async runSubmitStages(
    command: string,
    payload: string,
    opts: SubmitOptions,
    state: NonNullable<AtChannel['inSubmit']>,
  ): Promise<SubmitResult> {
    this.commandCount++;
    // The command only, never the payload; errors name it the same way, since they get logged.
    const shown = redactCommand(command);
    log.debug({ cmd: shown }, 'at submit');
    const promptMs = opts.promptTimeoutMs ?? this.timeouts.prompt;
    const sendMs = opts.sendTimeoutMs ?? this.timeouts.send;

    // Phase 1: the command, until the prompt (or a final: the modem refused).
    const first = await new Promise<'prompt' | AtResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle();
        reject(
          new MfaError(`${shown}: no prompt in ${promptMs} ms`, ErrorCode.ModemTimeout, {
            flags: { retryable: true },
          }),
        );
      }, promptMs);
      this.waiter = {
        lines: [],
        wantPrompt: true,
        onPrompt: () => {
          clearTimeout(timer);
          resolve('prompt');
        },
        onFinal: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        onError: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.framer.expect({ echo: command, prompt: true });
      try {
        opts.onCommand?.();
      } catch {
        // An early start of the caller's own work; beforeSubmit still runs and decides.
      }
      this.write(`${command}\r`).catch((e: unknown) => {
        clearTimeout(timer);
        this.settle();
        reject(asError(e));
      });
    }).catch(async (e: unknown) => {
      // No prompt: the modem may still be in text entry. ESC leaves it without sending.
      await this.abandon();
      throw e;
    });
    if (first !== 'prompt') {
      this.settle();
      return { response: first, submitted: false };
    }

    // Phase 2: the caller's last word before the message can go out.
    state.stage = 'before';
    try {
      await opts.beforeSubmit?.();
    } catch (e) {
      await this.abandon();
      throw e;
    }
    // A reset URC, stop() or a lost port while beforeSubmit ran: nothing has been sent, so leave
    // the prompt with ESC and fail with a known outcome instead of writing into a dead modem.
    const aborted = state.abort ?? this.closedError;
    if (aborted) {
      await this.abandon();
      throw aborted;
    }
    state.stage = 'sent';

    // Phase 3: payload + Ctrl-Z. From the write on, the outcome is unknown until the final.
    const response = await new Promise<AtResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle();
        reject(
          new MfaError(`${shown}: no result ${sendMs} ms after Ctrl-Z`, ErrorCode.ModemTimeout, {
            flags: { outcomeUnknown: true },
          }),
        );
      }, sendMs);
      this.waiter = {
        lines: [],
        wantPrompt: false,
        onFinal: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        onError: (e) => {
          clearTimeout(timer);
          reject(
            new MfaError(`${shown}: ${e.message}, after Ctrl-Z`, e.code, {
              cause: e,
              flags: { ...e.flags, outcomeUnknown: true },
            }),
          );
        },
      };
      this.framer.expect({ echo: payload });
      this.write(payload + CTRL_Z).catch((e: unknown) => {
        clearTimeout(timer);
        this.settle();
        // Part of the payload, or all of it, may have reached the modem before the error.
        const err = e instanceof MfaError ? e : new MfaError(String(e), ErrorCode.ModemClosed, { cause: e });
        reject(
          new MfaError(err.message, err.code, { cause: e, flags: { ...err.flags, outcomeUnknown: true } }),
        );
      });
    }).catch(async (e: unknown) => {
      if (e instanceof MfaError && e.code === ErrorCode.ModemTimeout) await this.drain();
      throw e;
    });
    return { response, submitted: true };
  }

  /** ESC, then drain. Never Ctrl-Z: that would send whatever the modem holds. */
  private async abandon(): Promise<void> {
    this.settle();
    if (this.closedError) return;
    try {
      await this.write(ESC);
    } catch {
      return;
    }
    await this.drain();
  }

  /**
   * Discards replies until the modem has been quiet for drainQuiet ms (at most drainMax), so a
   * late final cannot be matched to the next command. URCs still flow.
   */
  async drain(): Promise<void> {
    this.settle();
    const start = performance.now();
    this.lastByteAt = Math.max(this.lastByteAt, start);
    for (;;) {
      const now = performance.now();
      if (now - this.lastByteAt >= this.timeouts.drainQuiet || now - start >= this.timeouts.drainMax) break;
      if (this.closedError) break;
      await new Promise((r) => setTimeout(r, Math.min(50, this.timeouts.drainQuiet)));
    }
    this.emitAll(this.framer.flush());
  }

  private settle(): void {
    this.waiter = undefined;
    this.framer.expect(null);
  }

  private onData(chunk: Buffer): void {
    this.lastByteAt = performance.now();
    this.emitAll(this.framer.push(chunk));
    this.waiter?.onData?.();
  }

  private emitAll(events: FramerEvent[]): void {
    for (const ev of events) this.dispatch(ev);
  }

  private dispatch(ev: FramerEvent): void {
    const w = this.waiter;
    switch (ev.type) {
      case 'urc':
        this.emit('urc', ev);
        return;
      case 'echo':
        return;
      case 'prompt':
        if (w?.wantPrompt && w.onPrompt) {
          w.wantPrompt = false;
          w.onPrompt();
        }
        return;
      case 'line':
        if (!w || !ev.solicited) {
          // Only its shape: a late echo could carry a PIN (AT+CPIN="…"), a PDU (hex of the
          // passcode) or a text-mode body; even a leading word could be the passcode.
          log.debug(strayShape(ev.text), 'unexpected line');
          this.emit('stray', ev.text);
          return;
        }
        w.lines.push(ev.text);
        return;
      case 'final':
        if (!w) {
          this.emit('stray', ev.line);
          return;
        }
        this.settle();
        w.onFinal({ lines: w.lines, final: ev.result });
        return;
    }
  }

  /**
   * Fails the command in flight now (the modem announced a reset: its reply will never come).
   * A send already past Ctrl-Z keeps its outcomeUnknown flag.
   */
  abortInFlight(err: MfaError): void {
    if (this.inSubmit?.stage === 'before') this.inSubmit.abort ??= err;
    const w = this.waiter;
    this.settle();
    w?.onError(err);
  }

  private onClosed(err: MfaError | undefined): void {
    this.closedError =
      err ?? new MfaError('modem port closed', ErrorCode.ModemClosed, { flags: { disconnected: true } });
    const w = this.waiter;
    this.settle();
    // Fail the command in flight at once rather than after its (possibly 90 s) timeout.
    w?.onError(this.closedError);
    this.emit('closed', this.closedError);
  }
}
