/** A realistic AT modem on a real pty, for the demo, tests and benchmarks. */
export { startSimulator } from './simulator.ts';
export type { ModemSimulator, SimulatorOptions } from './simulator.ts';
export type { Fault } from './faults.ts';
export type { SimEvent, SimEventKind } from './engine.ts';
export { HandsetInbox } from './handset.ts';
export type { ReceivedSms, DeliveredPart } from './handset.ts';
export { PROFILES, profileNames } from './profiles.ts';
export type { SimProfile } from './profiles.ts';
