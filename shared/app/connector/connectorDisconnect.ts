// The connector worker's disconnect: close the tenant's sessions, revoke the token at
// TeamViewer, delete the secret, and the connector goes back to notOnboarded; and what
// is recorded when Service Bus gives up on a disconnect. A tenant's open sessions (up to
// one per device: thousands) are closed a page per message, each handing the rest on to a
// follow-up message, so no invocation outlasts its message lock or its timeout.
import type { Actor } from "../../domain/caller.js";
import { connectorErrorCodes, connectorId, onboardingStatuses, resetConnector, type ConnectorState } from "../../domain/connector.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { isTeamViewerError, isTokenRefused } from "../teamViewerError.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { MessageBus } from "../messageBus.js";
import { makeEnvelope, messageQueue, messageTypes } from "../../contracts/messages.js";
import { nameBasedUuid } from "../sessions/sessionMessages.js";
import { isReauthorizationRequired } from "./connectorErrors.js";
import { UnreadableStoredToken, type ConnectorStore, type OpenSessionsCloser, type StoredToken, type TeamViewerAuthApi, type TokenVault } from "./ports.js";
import type { TokenProvider } from "./tokenProvider.js";

export interface ConnectorDisconnectDeps {
  readonly connectors: ConnectorStore;
  readonly vault: TokenVault;
  readonly tokens: Pick<TokenProvider, "withAccessToken" | "withTokenLease" | "invalidate">;
  readonly teamViewer: Pick<TeamViewerAuthApi, "revoke">;
  readonly openSessions: OpenSessionsCloser;
  /** For the follow-up messages that close the rest of a big tenant's sessions. */
  readonly bus: MessageBus;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** How long after a disconnect other instances may still admit a session request (their kept connector status, and the request's way to storage). */
  readonly settleMs?: number;
}

/** Disconnect the tenant's connector: close its sessions, revoke the token, delete the secret. */
export interface DisconnectCommand {
  readonly tenantId: string;
  readonly requestedBy: Actor;
  readonly correlationId: string | undefined;
  /** The connector's generation when the disconnect was requested; absent on older messages. */
  readonly generation?: number;
  /** A follow-up's place in the open sessions: closing goes on after it. */
  readonly sessionsAfter?: string;
  /** Sessions the messages before this one closed. */
  readonly sessionsClosed?: number;
  /** A follow-up sent once the connector was disconnected, at this generation: it only closes the requests admitted meanwhile. */
  readonly disconnectedGeneration?: number;
}

/**
 * Open sessions one message closes. Each is a read, a TeamViewer close (through the
 * tenant's quota) and a write or two: a page is seconds of work, well within the message
 * lock, where a tenant's thousands at once would not be.
 */
export const disconnectSessionsPerMessage = 100;

const target = { type: "connector", id: connectorId } as const;

async function audit(d: ConnectorDisconnectDeps, command: DisconnectCommand, result: "success" | "failure", detail: string): Promise<void> {
  const { tenantId, requestedBy: actor, correlationId } = command;
  await d.audit.record({ tenantId, actor, activity: "connector.disconnect", target, result, detail: detail.slice(0, 1000), correlationId });
}

/**
 * The newest token generation the disconnect may undo: that of the connection onboarded at
 * the requested generation, or of the sign-in of an onboarding at it (one more). A connect
 * begun after the request is at one more or beyond, and its token at two more or beyond.
 * Undefined for a message without a generation: everything is undone, as it always was.
 */
function newestUndone(command: DisconnectCommand): number | undefined {
  return command.generation === undefined ? undefined : command.generation + 1;
}

/** A connect began after the disconnect was requested: the connector is its onboarding, or the connection it made. */
function connectedSince(s: ConnectorState | undefined, newest: number | undefined): boolean {
  if (newest === undefined || !s) return false;
  if (s.onboardingStatus === onboardingStatuses.onboarding) return s.generation >= newest;
  return s.onboardingStatus === onboardingStatuses.onboarded && s.generation > newest;
}

export async function disconnect(d: ConnectorDisconnectDeps, command: DisconnectCommand, log: Logger): Promise<void> {
  const { tenantId } = command;
  if (command.disconnectedGeneration !== undefined) {
    await closeLateRequests(d, command, command.disconnectedGeneration, command.sessionsAfter);
    return;
  }
  const newest = newestUndone(command);

  // Sessions first: closing them at TeamViewer still needs the token. A newer connection's
  // sessions are not this disconnect's to close (a newer onboarding has none of its own).
  const before = newest === undefined ? undefined : await d.connectors.get(tenantId);
  const newerConnection = connectedSince(before, newest) && before?.onboardingStatus === onboardingStatuses.onboarded;
  let closedSessions = command.sessionsClosed ?? 0;
  if (!newerConnection) {
    const page = await d.openSessions.closeOpen(tenantId, "disconnected", pageAfter(command.sessionsAfter));
    closedSessions += page.closed;
    // More to close: the next message goes on from here, and the token stays until the last page.
    if (page.next !== undefined) {
      await handOn(d, command, { sessionsAfter: page.next, sessionsClosed: closedSessions });
      return;
    }
  }

  let revoke = await revokeToken(d, tenantId, newest, log);

  const at = d.clock.now().toISOString();
  // Under the token lease: no instance is refreshing or storing a token meanwhile, and any
  // refresh that ran out of lease finds the new generation and stores nothing. Every
  // instance sees the new generation within a minute and drops its cached token. A connect
  // begun since the request is left as it is: only a token of the earlier connection goes.
  let replaced = false;
  let secret = "secret deleted";
  const disconnected = await d.tokens.withTokenLease(tenantId, async () => {
    // A secret that holds no token is deleted like one: nothing could ever use it.
    const stored = await d.vault.read(tenantId).catch(noneIfUnreadable);
    const earlier = stored && !newerThan(stored, newest) ? stored : undefined;
    // Stored after the revoke above (the sign-in being undone completed meanwhile, or a
    // refresh): deleting it here would leave it live at TeamViewer.
    if (earlier && earlier.accessToken !== revoke.tried) revoke = alsoRevoked(revoke, await revokeAccessToken(d, tenantId, earlier.accessToken, log));
    const after = await d.connectors.update(tenantId, (s) => {
      replaced = connectedSince(s, newest);
      if (replaced) return undefined;
      return {
        ...resetConnector(s, revoke.problem ? { code: connectorErrorCodes.revokeFailed, message: revoke.problem, at } : null),
        generation: s.generation + 1,
      };
    });
    if (!replaced || earlier) await d.vault.remove(tenantId);
    else secret = stored ? "the secret holds the newer connection's token: kept" : "no secret left to delete";
    return after;
  });
  d.tokens.invalidate(tenantId);
  const parts = [revokeDetail(revoke), secret, `${closedSessions} open session${closedSessions === 1 ? "" : "s"} closed`];
  const result = revoke.problem ? "failure" : "success";
  if (replaced) {
    await audit(
      d,
      command,
      result,
      `a newer connect began after the disconnect was requested: it was left as it is; the earlier connection: ${parts.join("; ")}`,
    );
    return;
  }
  await audit(d, command, result, `disconnected: ${parts.join("; ")}`);
  // Each one closed late is audited as it is closed (session.closed).
  if (d.settleMs) await new Promise((r) => setTimeout(r, d.settleMs));
  await closeLateRequests(d, command, disconnected.generation, undefined);
}

const pageAfter = (after: string | undefined) => ({ limit: disconnectSessionsPerMessage, ...(after === undefined ? {} : { after }) });

/**
 * Sends the follow-up that goes on where this message stopped. Its id is named after this
 * message's own place, not the next one: a redelivery of this message (its completion
 * lost) hands on a duplicate, which Service Bus drops, so the pages go on in one line.
 */
async function handOn(
  d: ConnectorDisconnectDeps,
  command: DisconnectCommand,
  next: Pick<DisconnectCommand, "sessionsAfter" | "sessionsClosed" | "disconnectedGeneration">,
): Promise<void> {
  const { tenantId, requestedBy, correlationId, generation } = command;
  const from = [generation ?? "", command.disconnectedGeneration ?? "", command.sessionsAfter ?? ""].join("|");
  const id = nameBasedUuid(`connector.disconnect|${tenantId}|${next.disconnectedGeneration === undefined ? "open" : "late"}|${from}`);
  const data = { requestedBy: { id: requestedBy.id, displayName: requestedBy.displayName }, ...(generation === undefined ? {} : { generation }), ...next };
  const type = messageTypes.connectorDisconnect;
  await d.bus.send({
    queue: messageQueue[type],
    id,
    type,
    ...(correlationId === undefined ? {} : { correlationId }),
    body: makeEnvelope(type, tenantId, data, { id, now: d.clock.now(), ...(correlationId === undefined ? {} : { correlationId }) }),
  });
}

/** The token is a newer connection's than the disconnect may undo: never revoked or deleted. */
function newerThan(token: StoredToken, newest: number | undefined): boolean {
  return newest !== undefined && token.generation > newest;
}

/** The secret holds a newer connection's token than the disconnect may undo. */
async function holdsNewerToken(d: ConnectorDisconnectDeps, tenantId: string, newest: number | undefined): Promise<boolean> {
  if (newest === undefined) return false;
  const stored = await d.vault.read(tenantId);
  return stored !== undefined && newerThan(stored, newest);
}

function revokeDetail(revoke: RevokeOutcome): string {
  if (revoke.problem) return `revoke failed: ${revoke.problem}`;
  if (revoke.done) return "token revoked at TeamViewer";
  return revoke.newer ? "the stored token is the newer connection's: not revoked" : "no token to revoke";
}

/** What became of the token at TeamViewer: revoked, nothing to revoke, a newer connection's kept, or a failure to record. */
interface RevokeOutcome {
  readonly done: boolean;
  readonly problem?: string;
  readonly newer?: boolean;
  /** The access token presented to TeamViewer, if any: never presented twice. */
  readonly tried?: string;
}

/** Revokes the tenant's token at TeamViewer, best effort: only a failure that is not TeamViewer's throws. */
async function revokeToken(d: ConnectorDisconnectDeps, tenantId: string, newest: number | undefined, log: Logger): Promise<RevokeOutcome> {
  let tried: string | undefined;
  try {
    let newer = false;
    await d.tokens.withAccessToken(
      tenantId,
      async (accessToken) => {
        // Checked right before the call: a sign-in may have stored its token since the request.
        newer = await holdsNewerToken(d, tenantId, newest);
        if (newer) return;
        tried = accessToken;
        await d.teamViewer.revoke(accessToken);
      },
      { requireOnboarded: false },
    );
    return newer ? { done: false, newer } : { done: true, tried };
  } catch (e) {
    // TeamViewer refused the refresh token, but the access token may still work until it
    // expires: the provider no longer hands it out, so it is revoked as stored.
    if (isReauthorizationRequired(e)) return revokeStored(d, tenantId, newest, log);
    if (e instanceof UnreadableStoredToken) return unreadableToken(tenantId, e, log);
    // No token: nothing left to revoke there.
    if (e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded) return { done: false };
    return { ...revokeFailure(e, tenantId, log), tried };
  }
}

async function revokeStored(d: ConnectorDisconnectDeps, tenantId: string, newest: number | undefined, log: Logger): Promise<RevokeOutcome> {
  let stored: StoredToken | undefined;
  try {
    stored = await d.vault.read(tenantId);
  } catch (e) {
    if (e instanceof UnreadableStoredToken) return unreadableToken(tenantId, e, log);
    throw e;
  }
  if (!stored) return { done: false };
  if (newerThan(stored, newest)) return { done: false, newer: true };
  return revokeAccessToken(d, tenantId, stored.accessToken, log);
}

async function revokeAccessToken(d: ConnectorDisconnectDeps, tenantId: string, accessToken: string, log: Logger): Promise<RevokeOutcome> {
  try {
    await d.teamViewer.revoke(accessToken);
    return { done: true, tried: accessToken };
  } catch (e) {
    return { ...revokeFailure(e, tenantId, log), tried: accessToken };
  }
}

/** The outcome once a token found later was revoked too: a failure of either is recorded. */
function alsoRevoked(first: RevokeOutcome, later: RevokeOutcome): RevokeOutcome {
  const problem = first.problem ?? later.problem;
  return { done: first.done || later.done, ...(problem === undefined ? {} : { problem }), tried: later.tried };
}

function noneIfUnreadable(e: unknown): undefined {
  if (e instanceof UnreadableStoredToken) return undefined;
  throw e;
}

/** The secret holds no token we can read: nothing to present to TeamViewer, so say so. */
function unreadableToken(tenantId: string, e: UnreadableStoredToken, log: Logger): RevokeOutcome {
  log.warn("the stored TeamViewer token cannot be read, so the disconnect cannot revoke it", { tenantId, error: e.message });
  return {
    done: false,
    problem:
      "The stored TeamViewer token could not be read, so it was not revoked. It was deleted here; revoke the app's access in the TeamViewer account if needed.",
  };
}

function revokeFailure(e: unknown, tenantId: string, log: Logger): RevokeOutcome {
  // A token TeamViewer already refuses: nothing left to revoke there.
  if (isTokenRefused(e)) return { done: false };
  if (!isTeamViewerError(e)) throw e;
  // Best effort: the local side is cleaned whatever TeamViewer does; the failure is recorded.
  log.warn("could not revoke the TeamViewer token during disconnect", { tenantId, errorCode: e.code });
  return {
    done: false,
    problem: e.transient
      ? `TeamViewer could not be reached to revoke the token (${e.code}). It was deleted here; revoke the app's access in the TeamViewer account if needed.`
      : `TeamViewer refused to revoke the token: ${e.message} It was deleted here.`,
  };
}

/**
 * Requests admitted after the first close (here until the update, elsewhere while an instance
 * kept the status) would stay open: closed once none can be admitted, unless a connect began
 * since the connector was left at `generation`. A page per message, as before the update.
 */
async function closeLateRequests(d: ConnectorDisconnectDeps, command: DisconnectCommand, generation: number, after: string | undefined): Promise<void> {
  const now = await d.connectors.get(command.tenantId);
  if (now?.onboardingStatus !== onboardingStatuses.notOnboarded || now.generation !== generation) return;
  const page = await d.openSessions.closeOpen(command.tenantId, "disconnected", pageAfter(after));
  if (page.next !== undefined) await handOn(d, command, { disconnectedGeneration: generation, sessionsAfter: page.next });
}

/**
 * A disconnect Service Bus gave up on. A connector that is no longer onboarded was
 * disconnected after all (or connected again and disconnected since), and one a connect
 * began after the request is another connection: there is nothing left to report on it.
 * A follow-up closing the requests admitted meanwhile (`disconnectedGeneration`) comes after
 * the disconnect completed: whatever the connector is now, it did not fail. Safe to run twice.
 */
export async function disconnectDeadLettered(d: ConnectorDisconnectDeps, command: DisconnectCommand, reason: string | undefined): Promise<void> {
  const at = d.clock.now().toISOString();
  const why = reason ? ` (${reason})` : "";
  if (command.disconnectedGeneration !== undefined) {
    await audit(d, command, "failure", `dead-lettered${why} while closing the requests admitted while the disconnect ran; the connector was disconnected`);
    return;
  }
  const newest = newestUndone(command);
  // A connect begun after the request is not the connection whose disconnect failed.
  await d.connectors.update(command.tenantId, (s) =>
    s.onboardingStatus === onboardingStatuses.notOnboarded || connectedSince(s, newest)
      ? undefined
      : { ...s, lastError: { code: connectorErrorCodes.disconnectFailed, message: "The disconnect could not be completed. Try again.", at } },
  );
  await audit(d, command, "failure", `dead-lettered${why}`);
}
