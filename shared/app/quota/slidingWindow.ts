// The TeamViewer quota's rule, pure: a sliding log of the last calls' times. A call is let
// through only while fewer than the limit were let through in the window before it, so no
// window of that length ever holds more than the limit (a bucket holding a minute's worth
// would let twice the limit through across a minute's boundary). Kept in one Table row per
// tenant by the adapter; here only the arithmetic, so it is tested without storage.

/** A minute, plus a second for the way to TeamViewer: a call granted at t reaches it a little later. */
export const quotaWindowMs = 61_000;

export interface WindowState {
  /** When calls were let through, ascending (epoch ms). */
  readonly times: readonly number[];
  /** No call before this (TeamViewer said rate_limit_reached with Retry-After); 0 = not blocked. */
  readonly blockedUntil: number;
}

export const emptyWindow: WindowState = { times: [], blockedUntil: 0 };

export type WindowDecision = { readonly granted: true; readonly next: WindowState } | { readonly granted: false; readonly retryAt: number };

/** Whether a call at `now` fits under `limit` calls per window; if it does, the state with it recorded. */
export function decide(state: WindowState, now: number, limit: number, windowMs: number = quotaWindowMs): WindowDecision {
  if (state.blockedUntil > now) return { granted: false, retryAt: state.blockedUntil };
  // Calls older than the window no longer count; "calls" further ahead than a window come
  // from a clock gone wrong on some instance and would otherwise hold slots for good.
  const recent = state.times.filter((t) => t > now - windowMs && t <= now + windowMs);
  if (recent.length >= limit) {
    // The call `limit` places back from the newest must leave the window first.
    return { granted: false, retryAt: recent[recent.length - limit] + windowMs };
  }
  const times = [...recent, now].sort((a, b) => a - b);
  return { granted: true, next: { times, blockedUntil: state.blockedUntil } };
}

/** Blocks until `until` (never shortens a longer block). */
export function block(state: WindowState, until: number): WindowState {
  return { ...state, blockedUntil: Math.max(state.blockedUntil, until) };
}

/**
 * The log as one string property: base-36 offsets from the oldest time, comma-separated.
 * At most 600 calls within about a minute: offsets below 62,000 ms are at most 4 digits, so
 * the string stays under 3,000 characters, far from a Table property's 64 KiB (32 K chars).
 */
export function encodeTimes(times: readonly number[]): { base: number; log: string } {
  if (times.length === 0) return { base: 0, log: "" };
  const base = times[0];
  return { base, log: times.map((t) => (t - base).toString(36)).join(",") };
}

export function decodeTimes(base: number, log: string): number[] {
  if (log === "") return [];
  const out: number[] = [];
  for (const part of log.split(",")) {
    // A damaged row must not stop the tenant's calls: unreadable entries are dropped.
    if (/^[0-9a-z]{1,8}$/.test(part)) out.push(base + parseInt(part, 36));
  }
  return out.sort((a, b) => a - b);
}
