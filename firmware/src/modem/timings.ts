/** Supervisor timings, all ms, and the graceful stop's drain. */
export interface ModemTimings {
  /** [200...10000] ms, default 1500: one AT probe. */
  probe: number;
  /** [1...20], default 5: AT probes before a rung of the ladder is declared failed. */
  probeTries: number;
  /**
   * [2...20], default 3: commands in a row that get no answer before the modem counts as hung
   * and the recovery ladder starts. One slow reply is not a hang: any answer resets the count.
   */
  hangTimeouts: number;
  /** [1000...120000] ms, default 30000: longest wait for SIM busy (CME 14) to clear. */
  simBusyMax: number;
  /** [1000...60000] ms, default 2000: registration poll while searching. */
  pollSearching: number;
  /** [5000...600000] ms, default 30000: registration and signal poll while registered. */
  pollRegistered: number;
  /** [5000...300000] ms, default 60000: wait for the port to come back after a reset or unplug. */
  reenumerate: number;
  /** [100...10000] ms, default 1000: gap between reopen attempts while the port is absent. */
  reopenPoll: number;
  /** [60000...3600000] ms, default 600000: how long a modem stays "SMS refused" before a retry. */
  smsRefusedHold: number;
}

export const DEFAULT_TIMINGS: ModemTimings = {
  probe: 1500,
  probeTries: 5,
  hangTimeouts: 3,
  simBusyMax: 30000,
  pollSearching: 2000,
  pollRegistered: 30000,
  reenumerate: 60000,
  reopenPoll: 1000,
  smsRefusedHold: 600000,
};

export interface StopOptions {
  /**
   * [0...300000] ms, default the channel's send timeout (90000): how long stop() waits for a send
   * already past Ctrl-Z to get its final before closing the port anyway.
   */
  drainMs?: number;
}
