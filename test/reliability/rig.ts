/**
 * The setup every scenario shares: slapd with N bulk users, simulated modems, their handsets and
 * the box, started and ready unless a scenario starts it itself (the power cut does, per round).
 * `stop()` tears it down in reverse and never throws past a half-built rig.
 */
import type { ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import {
  makeBox,
  startDirectory,
  startModems,
  type Box,
  type BoxOptions,
  type DirectoryPeer,
} from './harness.ts';
import { Handsets, waitReady } from './users.ts';

export interface Rig {
  dir: DirectoryPeer;
  sims: ModemSimulator[];
  phones: Handsets;
  box: Box;
  stop(): Promise<void>;
}

export interface RigOptions {
  /** Bulk users in the directory; the last one is the readiness probe. */
  users: number;
  modems?: number;
  /** The simulated network's time per SMS. */
  smsDelayMs?: number;
  /** Anything else for the box (config overrides, env, a dataDir on a tmpfs). */
  box?: Omit<BoxOptions, 'dir' | 'sims'>;
  /** Start the box and wait until a probe login gets its SMS (default true). */
  start?: boolean;
}

export async function startRig(o: RigOptions): Promise<Rig> {
  const dir = await startDirectory(o.users);
  let sims: ModemSimulator[] = [];
  let box: Box | undefined;
  const stop = async (): Promise<void> => {
    await box?.cleanup();
    for (const s of sims) await s.stop();
    await dir.peer.stop();
  };
  try {
    sims = await startModems(o.modems ?? 1, o.smsDelayMs);
    const phones = new Handsets(sims);
    box = await makeBox({ ...o.box, dir, sims });
    if (o.start !== false) {
      await box.start();
      await waitReady(box, phones, o.users, dir.password);
    }
    return { dir, sims, phones, box, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
