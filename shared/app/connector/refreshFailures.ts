// What a failed TeamViewer token refresh leaves behind: an audit event for every failure,
// and for a refresh token TeamViewer refused (invalid_grant) a connector marked as
// needing reauthorization, so no instance calls TeamViewer until an admin reconnects.
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

export class RefreshFailures {
  readonly #d: RefreshFailuresDeps;

  constructor(deps: RefreshFailuresDeps) {
    this.#d = deps;
  }

  async record(tenantId: string, detail: string): Promise<void> {
    await this.#d.audit.record({
      tenantId,
      actor: systemActor,
      activity: "connector.tokenRefresh",
      target: { type: "connector", id: "teamviewer" },
      result: "failure",
      detail: detail.slice(0, 1000),
    });
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
    await this.record(tenantId, `invalidGrant: ${cause.message}`);
  }
}
