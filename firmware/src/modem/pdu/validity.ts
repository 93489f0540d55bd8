/**
 * TP-VP in relative format (TS 23.040 §9.2.3.12.1). Pure.
 *
 * The box sets it to the passcode's remaining life so the network drops a code that would arrive
 * dead. The format cannot express every duration, so we round DOWN to the nearest value it can
 * (a code that expires early is retried by the user; one that arrives after it died is confusing),
 * except below the 5-minute minimum, which is the shortest the network accepts.
 */
const MIN = 60;
const HOUR = 3600;
const DAY = 86_400;
const WEEK = 7 * DAY;

/** Seconds represented by a relative TP-VP octet. */
export function vpToSeconds(vp: number): number {
  const v = vp & 0xff;
  if (v <= 143) return (v + 1) * 5 * MIN;
  if (v <= 167) return 12 * HOUR + (v - 143) * 30 * MIN;
  if (v <= 196) return (v - 166) * DAY;
  return (v - 192) * WEEK;
}

/** The largest relative TP-VP whose duration is ≤ `seconds` (0, i.e. 5 minutes, at least). */
export function secondsToVp(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 5 * MIN) return 0;
  if (seconds >= 63 * WEEK) return 255;
  if (seconds <= 12 * HOUR) return Math.floor(seconds / (5 * MIN)) - 1;
  if (seconds < 12 * HOUR + 30 * MIN) return 143;
  if (seconds <= DAY) return 143 + Math.floor((seconds - 12 * HOUR) / (30 * MIN));
  if (seconds < 2 * DAY) return 167;
  if (seconds <= 30 * DAY) return 166 + Math.floor(seconds / DAY);
  if (seconds < 5 * WEEK) return 196;
  return 192 + Math.floor(seconds / WEEK);
}
