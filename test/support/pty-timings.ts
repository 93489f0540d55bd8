/**
 * Channel timeouts and modem timings for tests over a pty to the simulator: short enough that a
 * fault case takes about a second, long enough for a loaded 2-core CI machine.
 */
export const PTY_TIMEOUTS = {
  basic: 1500,
  prompt: 1500,
  send: 2500,
  slow: 3000,
  drainQuiet: 60,
  drainMax: 400,
};

export const PTY_TIMINGS = {
  probe: 600,
  probeTries: 3,
  pollSearching: 150,
  pollRegistered: 400,
  reopenPoll: 100,
  reenumerate: 5000,
};
