// The connector worker's disconnect: close the tenant's sessions, revoke the token at
// TeamViewer, delete the secret, and the connector goes back to notOnboarded; and what
// is recorded when Service Bus gives up on a disconnect.
import type { Actor } from "../../domain/caller.js";
import { connectorErrorCodes, connectorId, onboardingStatuses, resetConnector } from "../../domain/connector.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { isTeamViewerError, isTokenRefused } from "../teamViewerError.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { ConnectorStore, OpenSessionsCloser, TeamViewerAuthApi, TokenVault } from "./ports.js";
import type { TokenProvider } from "./tokenProvider.js";

export interface ConnectorDisconnectDeps {
  readonly connectors: ConnectorStore;
  readonly vault: TokenVault;
  readonly tokens: Pick<TokenProvider, "withAccessToken" | "withTokenLease" | "invalidate">;
  readonly teamViewer: Pick<TeamViewerAuthApi, "revoke">;
  readonly openSessions: OpenSessionsCloser;
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
}

const target = { type: "connector", id: connectorId } as const;

async function audit(d: ConnectorDisconnectDeps, command: DisconnectCommand, result: "success" | "failure", detail: string): Promise<void> {
  const { tenantId, requestedBy: actor, correlationId } = command;
  await d.audit.record({ tenantId, actor, activity: "connector.disconnect", target, result, detail: detail.slice(0, 1000), correlationId });
}

export async function disconnect(d: ConnectorDisconnectDeps, command: DisconnectCommand, log: Logger): Promise<void> {
  const { tenantId } = command;

  // Sessions first: closing them at TeamViewer still needs the token.
  const closedSessions = await d.openSessions.closeAllOpen(tenantId, "disconnected");

  let revoke: { done: boolean; problem?: string } = { done: false };
  try {
    await d.tokens.withAccessToken(tenantId, (accessToken) => d.teamViewer.revoke(accessToken), { requireOnboarded: false });
    revoke = { done: true };
  } catch (e) {
    if (e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded) {
      // No token, or one TeamViewer already refuses: nothing left to revoke there.
      revoke = { done: false };
    } else if (isTokenRefused(e)) {
      revoke = { done: false };
    } else if (isTeamViewerError(e)) {
      // Best effort: the local side is cleaned whatever TeamViewer does; the failure is recorded.
      revoke = {
        done: false,
        problem: e.transient
          ? `TeamViewer could not be reached to revoke the token (${e.code}). It was deleted here; revoke the app's access in the TeamViewer account if needed.`
          : `TeamViewer refused to revoke the token: ${e.message} It was deleted here.`,
      };
      log.warn("could not revoke the TeamViewer token during disconnect", { tenantId, code: e.code });
    } else {
      throw e;
    }
  }

  const at = d.clock.now().toISOString();
  // Under the token lease: no instance is refreshing meanwhile, and any refresh that ran
  // out of lease finds the new generation and stores nothing. Every instance sees the new
  // generation within a minute and drops its cached token.
  const disconnected = await d.tokens.withTokenLease(tenantId, async () => {
    const after = await d.connectors.update(tenantId, (s) => ({
      ...resetConnector(s, revoke.problem ? { code: connectorErrorCodes.revokeFailed, message: revoke.problem, at } : null),
      generation: s.generation + 1,
    }));
    await d.vault.remove(tenantId);
    return after;
  });
  d.tokens.invalidate(tenantId);
  const parts = [
    revoke.done ? "token revoked at TeamViewer" : revoke.problem ? `revoke failed: ${revoke.problem}` : "no token to revoke",
    "secret deleted",
    `${closedSessions} open session${closedSessions === 1 ? "" : "s"} closed`,
  ];
  await audit(d, command, revoke.problem ? "failure" : "success", `disconnected: ${parts.join("; ")}`);
  // Each one closed late is audited as it is closed (session.closed).
  await closeLateRequests(d, tenantId, disconnected.generation);
}

/**
 * Requests admitted after the first close (here until the update, elsewhere while an instance
 * kept the status) would stay open: closed once none can be admitted, unless a connect began.
 */
async function closeLateRequests(d: ConnectorDisconnectDeps, tenantId: string, generation: number): Promise<number> {
  if (d.settleMs) await new Promise((r) => setTimeout(r, d.settleMs));
  const now = await d.connectors.get(tenantId);
  if (now?.onboardingStatus !== onboardingStatuses.notOnboarded || now.generation !== generation) return 0;
  return d.openSessions.closeAllOpen(tenantId, "disconnected");
}

/**
 * A disconnect Service Bus gave up on. A connector that is no longer onboarded was
 * disconnected after all (or connected again and disconnected since): there is nothing
 * left to report on it. Safe to run twice.
 */
export async function disconnectDeadLettered(d: ConnectorDisconnectDeps, command: DisconnectCommand, reason: string | undefined): Promise<void> {
  const at = d.clock.now().toISOString();
  const why = reason ? ` (${reason})` : "";
  await d.connectors.update(command.tenantId, (s) =>
    s.onboardingStatus === onboardingStatuses.notOnboarded
      ? undefined
      : { ...s, lastError: { code: connectorErrorCodes.disconnectFailed, message: "The disconnect could not be completed. Try again.", at } },
  );
  await audit(d, command, "failure", `dead-lettered${why}`);
}
