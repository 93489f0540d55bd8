/** Faults the simulator can be told to produce, for tests of the driver's recovery paths. */
export type Fault =
  /** The next +CMGS (or every one) ends in `+CMS ERROR: <code>` after the network time. */
  | { kind: 'cms-error'; code: number; times: 'once' | 'always' }
  /** The modem stops answering anything (bytes in, nothing out) until `clear`, a reboot or an unplug. */
  | { kind: 'hang' }
  /** The next send reboots the modem halfway through the network time: no +CMGS, boot URCs. */
  | { kind: 'reboot-mid-send'; delivered?: boolean }
  /** The next send loses the USB device halfway: the pty vanishes for `ms`. */
  | { kind: 'unplug-mid-send'; ms: number; delivered?: boolean }
  /** The SIM fails: +CPIN? and SIM commands answer +CME ERROR: 13; no registration. */
  | { kind: 'dead-sim' }
  /** No coverage: registration searching, +CSQ: 99,99, +CMGS → +CMS ERROR: 331. */
  | { kind: 'no-network' }
  /** The SIM answers +CME ERROR: 14 (+CMS ERROR: 314) for `ms`. */
  | { kind: 'sim-busy'; ms: number }
  /** Writes one URC now (or queues it until the current command finishes). */
  | { kind: 'urc'; line: string }
  /** Puts a URC into the next reply that has information lines, between lines or inside one. */
  | { kind: 'urc-in-reply'; line: string; mode: 'between' | 'mid-line' }
  /** Removes every fault. */
  | { kind: 'clear' };
