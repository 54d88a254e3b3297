// Connections recorded on a session: each TeamViewer connection once (by its id), an open
// one completed when its end is reported, and at most `maxConnectionsPerSession` of them.
import { noteHistory, truncate, type Session, type SessionConnection } from "./session.js";

/** A session keeps at most this many connections; later ones are noted once, not kept. */
export const maxConnectionsPerSession = 50;

export interface ConnectionReport {
  readonly id: string;
  readonly supporter: { readonly userId: string; readonly name: string };
  readonly startedAt: Date;
  readonly endedAt: Date | null;
}

export type ConnectionOutcome =
  /** New on this session: recorded with a history entry (audit it). */
  | { readonly kind: "recorded"; readonly session: Session; readonly connection: SessionConnection }
  /** Known and open until now; its end is recorded (no new history entry). */
  | { readonly kind: "ended"; readonly session: Session; readonly connection: SessionConnection }
  /** Already recorded as it is: nothing to write. */
  | { readonly kind: "known" }
  /** The session keeps no more connections: noted in the history once, the connection dropped. */
  | { readonly kind: "full"; readonly session: Session | undefined };

/** TeamViewer's session codes compared without the `s` prefix, dashes or case: `s12-345-678` = `12345678`. */
export function normalizeSessionCode(code: string): string {
  const compact = code.toLowerCase().replace(/[^a-z0-9]/g, "");
  return /^s\d/.test(compact) ? compact.slice(1) : compact;
}

const fullNote = `TeamViewer reported more connections than a session keeps (${maxConnectionsPerSession}); later ones are not recorded.`;

export function durationSeconds(startedAt: Date, endedAt: Date | null): number | null {
  return endedAt === null ? null : Math.max(0, Math.round((endedAt.getTime() - startedAt.getTime()) / 1000));
}

/** What recording `report` on `session` does; `at` is when the service learnt it (the history entry's time). */
export function recordConnection(session: Session, report: ConnectionReport, at: Date): ConnectionOutcome {
  const connections = session.connections ?? [];
  const existing = connections.find((c) => c.id === report.id);
  if (existing) {
    if (existing.endedAt !== null || report.endedAt === null) return { kind: "known" };
    const ended: SessionConnection = {
      ...existing,
      endedAt: report.endedAt.toISOString(),
      durationSeconds: durationSeconds(new Date(existing.startedAt), report.endedAt),
    };
    return { kind: "ended", session: { ...session, connections: connections.map((c) => (c.id === report.id ? ended : c)) }, connection: ended };
  }
  if (connections.length >= maxConnectionsPerSession) {
    const noted = session.history.some((h) => h.detail === fullNote);
    return { kind: "full", session: noted ? undefined : noteHistory(session, at, fullNote) };
  }
  const connection: SessionConnection = {
    id: report.id,
    supporter: { userId: truncate(report.supporter.userId, 64), name: truncate(report.supporter.name, 200) },
    startedAt: report.startedAt.toISOString(),
    endedAt: report.endedAt === null ? null : report.endedAt.toISOString(),
    durationSeconds: durationSeconds(report.startedAt, report.endedAt),
  };
  const detail = connectionDetail(connection);
  return { kind: "recorded", session: noteHistory({ ...session, connections: [...connections, connection] }, at, detail), connection };
}

/** "Supporter Name (u123) connected at … for 12 min." — for the history and the audit event. */
export function connectionDetail(c: SessionConnection): string {
  const length = c.durationSeconds === null ? "; still connected when reported" : ` for ${formatDuration(c.durationSeconds)}`;
  return `${c.supporter.name} (${c.supporter.userId}) connected at ${c.startedAt}${length}.`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A session's connected time in seconds: its ended connections (an open one counts once it ends). */
export function connectedSeconds(session: Pick<Session, "connections">): number {
  return (session.connections ?? []).reduce((sum, c) => sum + (c.durationSeconds ?? 0), 0);
}

/** The end user accepted, and no supporter connection was reported. */
export const acceptedNeverConnected = (s: Pick<Session, "endUserResponse" | "connections">): boolean =>
  s.endUserResponse?.response === "accepted" && (s.connections ?? []).length === 0;
