/**
 * The auth engine on a real store in a temp directory, with the doubles from doubles.ts: what
 * engine.test.ts, engine-policy.test.ts and engine-binding.test.ts each built for themselves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAuthEngine,
  type AuthDecision,
  type AuthEngine,
  type AuthEngineConfig,
  type AuthEngineDeps,
} from '../../../firmware/src/auth/engine.ts';
import type { AccessRequest, HandlerReply, NasClient } from '../../../firmware/src/auth/types.ts';
import { DemoDirectory } from '../../../firmware/src/directory/demo.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { FakeClock, FakeOutbox, SeededRandom } from './doubles.ts';

/** A NAS client as the engine sees it; the first one's address is 192.0.2.10. */
export function nasClient(name = 'netscaler', over: Partial<NasClient> = {}): NasClient {
  return {
    name,
    match: '192.0.2.10',
    requireMessageAuthenticator: 'yes',
    passwordCheck: 'directory',
    acceptAttributes: [],
    ...over,
  };
}

export function replyAttr(r: HandlerReply, name: string): string | number | Buffer | undefined {
  return r.attributes.find(([n]) => n === name)?.[1];
}

export function messageOf(r: HandlerReply): string | undefined {
  return replyAttr(r, 'Reply-Message') as string | undefined;
}

export function stateOf(r: HandlerReply): Buffer {
  const s = replyAttr(r, 'State');
  if (!Buffer.isBuffer(s)) throw new Error(`no State in ${r.code} "${messageOf(r)}"`);
  return s;
}

export function accessRequest(
  userName: string,
  password: string,
  extra: Partial<AccessRequest> = {},
): AccessRequest {
  return { source: { address: '192.0.2.10', port: 40000 }, identifier: 1, userName, password, ...extra };
}

/** A code that differs from `code` in its first digit. */
export function wrongCode(code: string): string {
  return code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));
}

/** The passcode in an SMS text the engine queued, or undefined. */
export function passcodeIn(text: string | undefined): string | undefined {
  return /passcode is (\d+)/.exec(text ?? '')?.[1];
}

export interface EngineRig {
  dir: string;
  store: Store;
  clock: FakeClock;
  random: SeededRandom;
  directory: DemoDirectory;
  outbox: FakeOutbox;
  decisions: AuthDecision[];
  engine: AuthEngine;
  /** A new engine over the rig's doubles (the old one is not stopped), with any dep replaced. */
  build(over?: Partial<AuthEngineDeps>): AuthEngine;
  /** Closes and reopens the store (a restart), with a new outbox double and engine over it. */
  restart(): Promise<void>;
  /** Stops the engine and closes the store the test ended with (default: the rig's), then removes the directory. */
  close(live?: { engine: AuthEngine; store: Store }): Promise<void>;
}

export interface EngineRigOptions {
  /** Read on every request, so a test may swap its config between requests. */
  config: () => AuthEngineConfig;
  clock?: FakeClock;
  /** Puts something between the engine and the store (e.g. a gate on writes). */
  wrapStore?: (s: Store) => Store;
}

export async function openEngineRig(o: EngineRigOptions): Promise<EngineRig> {
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-engine-'));
  const store = await openStore(dir);
  const rig: EngineRig = {
    dir,
    store,
    clock: o.clock ?? new FakeClock(),
    random: new SeededRandom(),
    directory: new DemoDirectory(),
    outbox: new FakeOutbox(store),
    decisions: [],
    engine: undefined as unknown as AuthEngine,
    build: (over = {}) =>
      createAuthEngine({
        directory: rig.directory,
        outbox: rig.outbox,
        store: o.wrapStore ? o.wrapStore(rig.store) : rig.store,
        clock: rig.clock,
        random: rig.random,
        config: o.config,
        onDecision: (d) => rig.decisions.push(d),
        ...over,
      }),
    restart: async () => {
      await rig.engine.stop();
      await rig.store.close();
      rig.store = await openStore(dir);
      rig.outbox = new FakeOutbox(rig.store);
      rig.engine = rig.build();
    },
    close: async (live = rig) => {
      await live.engine.stop();
      await live.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  rig.engine = rig.build();
  return rig;
}
