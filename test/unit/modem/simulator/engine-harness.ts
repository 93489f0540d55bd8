/**
 * The simulated modem's interpreter driven in-process (no pty), shared by the engine-*.test.ts
 * files: `simModems()` hands out modems whose replies a test reads synchronously, and stops them
 * after each test. The pty tests in simulator.test.ts cover the same engine over real bytes.
 */
import { afterEach, expect, vi } from 'vitest';
import { encodeSubmit } from '../../../../firmware/src/modem/pdu/index.ts';
import { ModemEngine } from '../../../../firmware/src/modem/simulator/engine.ts';
import type { Fault } from '../../../../firmware/src/modem/simulator/faults.ts';
import { HandsetInbox } from '../../../../firmware/src/modem/simulator/handset.ts';
import { PROFILES, type SimProfile } from '../../../../firmware/src/modem/simulator/profiles.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One engine under test, with what it wrote, reported and asked for. */
export interface SimModem {
  engine: ModemEngine;
  handset: HandsetInbox;
  events: Array<{ kind: string; detail?: Record<string, unknown> }>;
  unplugs: Array<number | 'forever'>;
  /** Writes bytes and returns what the modem wrote synchronously in answer. */
  at(s: string): string;
  /** Everything written since the last call. */
  take(): string;
  fault(f: Fault): void;
}

export type SimModemFactory = (
  name?: string,
  over?: Partial<SimProfile>,
  opts?: { pin?: string; smsDelayMs?: number },
) => SimModem;

/**
 * A factory of booted engines (profile `name` with `over` applied), each stopped after the test.
 * Registers its own `afterEach`: call it once at the top level of a test file.
 */
export function simModems(): SimModemFactory {
  const engines: ModemEngine[] = [];
  afterEach(() => {
    for (const e of engines.splice(0)) e.stop();
  });
  return (name = 'generic', over = {}, opts = {}) => {
    const base = PROFILES.get(name);
    if (!base) throw new Error(name);
    // Boot timings off unless a test asks for them, so replies are immediate.
    const profile: SimProfile = {
      ...base,
      simBusyAfterBootMs: 0,
      simBusyAfterPinMs: 0,
      bootUrcs: [],
      ...over,
    };
    let out = '';
    const handset = new HandsetInbox();
    const events: SimModem['events'] = [];
    const unplugs: SimModem['unplugs'] = [];
    const engine = new ModemEngine({
      profile,
      smsDelayMs: opts.smsDelayMs ?? 5,
      ...(opts.pin !== undefined ? { pin: opts.pin } : {}),
      iccid: '8901260000000000019',
      imei: '356938035643809',
      handset,
      write: (s) => (out += s),
      event: (kind, detail) => events.push({ kind, ...(detail ? { detail } : {}) }),
      unplug: (ms) => unplugs.push(ms),
    });
    engines.push(engine);
    engine.boot();
    return {
      engine,
      handset,
      events,
      unplugs,
      at(s) {
        out = '';
        engine.input(Buffer.from(s, 'latin1'));
        const o = out;
        out = '';
        return o;
      },
      take() {
        const o = out;
        out = '';
        return o;
      },
      fault: (f) => engine.fault(f),
    };
  };
}

/** What the modem writes until `re` matches it (a status report follows a send by ≥ 50 ms). */
export async function takeUntil(m: { take(): string }, re: RegExp): Promise<string> {
  let got = '';
  await vi.waitFor(
    () => {
      got += m.take();
      expect(got).toMatch(re);
    },
    { timeout: 3000 },
  );
  return got;
}

/** Sends `text` in PDU mode, one AT+CMGS per part; returns each part's prompt. */
export function pduSend(m: SimModem, text: string, extra: Record<string, unknown> = {}): string[] {
  const parts = encodeSubmit({ to: '+15550000001', text, ...extra });
  return parts.map((p) => {
    const prompt = m.at(`AT+CMGS=${p.tpduLength}\r`);
    m.at(`${p.hex}\x1a`);
    return prompt;
  });
}
