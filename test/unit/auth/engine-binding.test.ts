/**
 * Issue 9 §2: a State is bound to the NAS client that received the challenge, and a retired
 * (superseded) challenge cannot come back to life through a wrong-code save that lands late.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthDecision, AuthEngine } from '../../../firmware/src/auth/engine.ts';
import { passcodeSchema, policySchema } from '../../../firmware/src/config/schema.ts';
import type { Store, StoreOp } from '../../../firmware/src/store/store.ts';
import type { FakeOutbox } from './doubles.ts';
import {
  accessRequest as req,
  nasClient,
  openEngineRig,
  passcodeIn,
  stateOf,
  wrongCode as wrong,
  type EngineRig,
} from './engine-rig.ts';

const A = nasClient('gw-a');
const B = nasClient('gw-b', { match: '192.0.2.20' });

/** Holds the next durable write of a challenge row (a wrong-code or used save) until released. */
class PutGate {
  armed = false;
  private release: (() => void) | undefined;
  private onHeld: () => void = () => undefined;
  readonly held: Promise<void>;

  constructor() {
    this.held = new Promise<void>((r) => (this.onHeld = r));
  }

  wrap(store: Store): Store {
    return new Proxy(store, {
      get: (target, prop, receiver) => {
        if (prop !== 'atomic') return Reflect.get(target, prop, receiver) as unknown;
        return async (ops: StoreOp[]): Promise<void> => {
          if (this.armed && ops.some((o) => o.sublevel === 'challenges' && o.type === 'put')) {
            this.armed = false;
            this.onHeld();
            await new Promise<void>((r) => (this.release = r));
          }
          await target.atomic(ops);
        };
      },
    });
  }

  open(): void {
    this.release?.();
  }
}

describe('auth engine: State bound to its NAS, one lock per challenge', () => {
  let rig: EngineRig;
  let outbox: FakeOutbox;
  let decisions: AuthDecision[];
  let engine: AuthEngine;
  let gate: PutGate;

  beforeEach(async () => {
    gate = new PutGate();
    const config = {
      passcode: passcodeSchema.parse({}),
      policy: policySchema.parse({}),
      defaultCountry: 'US',
      acceptPossibleNumbers: true,
      deviceSecret: Buffer.alloc(32, 7),
    };
    rig = await openEngineRig({ config: () => config, wrapStore: (s) => gate.wrap(s) });
    ({ outbox, decisions, engine } = rig);
  });
  afterEach(() => rig.close());

  /** The passcode sent for the latest challenge, or for the one with this id. */
  async function code(challengeId = decisions.at(-1)?.challengeId): Promise<string> {
    const entry = (await outbox.entries()).find((e) => e.challengeId === challengeId);
    const c = passcodeIn(entry?.text);
    if (!c) throw new Error('no passcode SMS');
    return c;
  }

  it('a State replayed through another NAS client is refused, without testing the code or spending a try', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), A));
    const right = await code();
    for (let i = 0; i < 4; i++) {
      const r = await engine.handle(req('alice', right, { state }), B);
      expect(r.code).toBe('Access-Reject');
      expect(r.attributes).toContainEqual(['Reply-Message', 'Login timed out: log in again']);
    }
    expect(decisions.at(-1)).toMatchObject({ reason: 'state-wrong-nas', client: 'gw-b', outcome: 'reject' });
    // Through the client that received the challenge, every try is still there.
    const w = await engine.handle(req('alice', wrong(right), { state }), A);
    expect(w.attributes).toContainEqual(['Reply-Message', 'Wrong code, 2 tries left']);
    expect((await engine.handle(req('alice', right, { state }), A)).code).toBe('Access-Accept');
  });

  it('a login through another client gets its own challenge instead of reusing one bound elsewhere', async () => {
    const sA = stateOf(await engine.handle(req('alice', 'alice-pass'), A));
    const codeA = await code();
    const sB = stateOf(await engine.handle(req('alice', 'alice-pass'), B));
    const codeB = await code();
    expect(await outbox.entries()).toHaveLength(2);
    expect(decisions.at(-1)?.reason).toBe('challenge-sent');
    // The new challenge retired the first one; the new code works through B only.
    expect((await engine.handle(req('alice', codeA, { state: sA }), A)).code).toBe('Access-Reject');
    expect((await engine.handle(req('alice', codeB, { state: sB }), A)).code).toBe('Access-Reject');
    expect((await engine.handle(req('alice', codeB, { state: sB }), B)).code).toBe('Access-Accept');
  });

  // The wrong-code save is held on its way to disk while a re-login retires the challenge; then it
  // lands. Under two lock scopes the late save wrote the record back live and the old code passed.
  it('a wrong-code save that lands after the supersede cannot revive the retired challenge', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), A));
    const old = await code();
    const first = decisions.at(-1)?.challengeId ?? '';
    gate.armed = true;
    const wrongTry = engine.handle(req('alice', wrong(old), { state }), A);
    await gate.held;
    // Now the SMS "fails", so the re-login sends a new code and retires this challenge.
    outbox.statuses.set(first, 'failed');
    const relogin = engine.handle(req('alice', 'alice-pass'), A);
    // Give the re-login every chance to run ahead of the held save.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    gate.open();
    const [w, r] = await Promise.all([wrongTry, relogin]);
    expect(w.code).toBe('Access-Challenge');
    expect(r.code).toBe('Access-Challenge');
    expect(await outbox.entries()).toHaveLength(2);
    const replay = await engine.handle(req('alice', old, { state }), A);
    expect(replay.code).toBe('Access-Reject');
    expect(decisions.at(-1)?.reason).toBe('state-superseded');
  });
});
