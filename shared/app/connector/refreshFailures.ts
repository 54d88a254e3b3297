// What a failed TeamViewer token refresh leaves behind: a log line for every failure and an
// audit event for the first of a tenant's failures in each interval (during an outage every
// queue delivery and timer run tries again: the log would otherwise get, and push to SIEM
// receivers, an event per attempt), counting those in between; and for a refresh token
// TeamViewer refused (invalid_grant) a connector marked as needing reauthorization, always
// audited, so no instance calls TeamViewer until an admin reconnects.
import { systemActor } from "../../domain/caller.js";
import { connectorErrorCodes, connectorHealths, onboardingStatuses } from "../../domain/connector.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { TeamViewerError } from "../teamViewerError.js";
import type { ConnectorStore } from "./ports.js";

export interface RefreshFailuresDeps {
  readonly audit: AuditLog;
  readonly connectors: ConnectorStore;
  readonly clock: Clock;
  readonly log: Logger;
}

/** At most one audit event of a tenant's failed refreshes per this long, per instance. */
export const refreshFailureAuditIntervalMs = 5 * 60_000;

export class RefreshFailures {
  readonly #d: RefreshFailuresDeps;
  /** Per tenant: when this instance last audited a failed refresh, and the failures since. */
  readonly #lastAudited = new Map<string, { at: number; since: number }>();

  constructor(deps: RefreshFailuresDeps) {
    this.#d = deps;
  }

  /** A refresh failed for a reason that may pass (TeamViewer down, throttled, a timeout). */
  async record(tenantId: string, detail: string): Promise<void> {
    this.#d.log.warn("TeamViewer token refresh failed", { tenantId, detail: detail.slice(0, 300) });
    const now = this.#d.clock.now().getTime();
    const last = this.#lastAudited.get(tenantId);
    if (last && now - last.at < refreshFailureAuditIntervalMs) {
      last.since++;
      return;
    }
    await this.#audit(tenantId, detail);
  }

  async #audit(tenantId: string, detail: string): Promise<void> {
    const since = this.#lastAudited.get(tenantId)?.since ?? 0;
    const counted = since === 0 ? "" : ` (${since} more failure${since === 1 ? "" : "s"} since the last event)`;
    await this.#d.audit.record({
      tenantId,
      actor: systemActor,
      activity: "connector.tokenRefresh",
      target: { type: "connector", id: "teamviewer" },
      result: "failure",
      detail: `${detail.slice(0, 900)}${counted}`,
    });
    // Only once it is recorded: a failed audit write leaves the next failure to record it.
    this.#lastAudited.set(tenantId, { at: this.#d.clock.now().getTime(), since: 0 });
  }

  async markReauthorizationRequired(tenantId: string, generation: number, cause: TeamViewerError): Promise<void> {
    const at = this.#d.clock.now().toISOString();
    // Only the connection whose token was refused: a newer one (reconnected meanwhile) is left alone.
    await this.#d.connectors.update(tenantId, (s) =>
      s.onboardingStatus === onboardingStatuses.onboarded && s.generation === generation
        ? {
            ...s,
            health: connectorHealths.reauthorizationRequired,
            lastError: {
              code: connectorErrorCodes.reauthorizationRequired,
              message:
                "TeamViewer refused the connector's refresh token (invalid_grant): the authorization was revoked or has expired. Connect again to re-authorize.",
              at,
            },
          }
        : undefined,
    );
    this.#d.log.warn("TeamViewer refused the refresh token; the connector needs reauthorization", { tenantId });
    await this.#audit(tenantId, `invalidGrant: ${cause.message}`);
  }
}
