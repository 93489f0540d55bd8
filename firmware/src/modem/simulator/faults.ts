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
  /**
   * The SMS side of the SIM is still loading (before "SMS Ready"): +CMGF= and +CSCA answer
   * +CMS ERROR: 314 for `ms` while +CPIN? already says READY.
   */
  | { kind: 'sms-busy'; ms: number }
  /** Writes one URC now (or queues it until the current command finishes). */
  | { kind: 'urc'; line: string }
  /** Puts a URC into the next reply that has information lines, between lines or inside one. */
  | { kind: 'urc-in-reply'; line: string; mode: 'between' | 'mid-line' }
  /**
   * Forces 27.007 registration stats (0–11: 3 denied, 4 unknown, 5 roaming, 6/7 SMS only,
   * 8 emergency only, …) once the modem would otherwise be registered; URCs follow if enabled.
   */
  | { kind: 'registration'; creg?: number; cgreg?: number; cereg?: number }
  /** Status reports from now on carry this TP-ST (0x00 delivered, 0x20–0x3F pending, 0x40+ failed). */
  | { kind: 'status-report'; status: number }
  /** Removes every fault. */
  | { kind: 'clear' };
