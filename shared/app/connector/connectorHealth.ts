// Connector health: ping TeamViewer with the stored token and read the account (for its
// licence), then record health and lastConnectionDateTime. The same check serves
// POST /api/connector/verify and the five-minute timer.
import { randomUUID } from "node:crypto";
import { systemActor, type Actor, type UserCaller, actorOf } from "../../domain/caller.js";
import {
  assessLicense,
  connectorErrorCodes,
  connectorHealths,
  connectorId,
  onboardingStatuses,
  type ConnectorError,
  type ConnectorHealth,
} from "../../domain/connector.js";
import { DomainError, errorCodes, rateLimited } from "../../domain/errors.js";
import { requireRead } from "../../domain/permissions.js";
import { isAccessTokenRefused, isTeamViewerError, TeamViewerError } from "../teamViewerError.js";
import type { Access } from "../access.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import { isOutage, TimerRows } from "../timerRows.js";
import { connectorNotOnboarded, isReauthorizationRequired, reauthorizationRequired } from "./connectorErrors.js";
import { UnreadableStoredToken, type ConnectorStore, type LeaseStore, type TeamViewerAccountInfo } from "./ports.js";
import type { TokenProvider } from "./tokenProvider.js";
import { isQuotaExhausted, type TeamViewerByTenant } from "../quota/teamViewerQuota.js";

export interface ConnectorHealthDeps {
  readonly access: Access;
  readonly connectors: ConnectorStore;
  readonly tokens: Pick<TokenProvider, "withAccessToken">;
  /** Counted against the tenant's TeamViewer quota. */
  readonly teamViewer: TeamViewerByTenant;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /**
   * At most one POST /api/connector/verify per tenant in this interval (0 = no limit): each
   * check spends TeamViewer calls of the tenant's quota, which its sessions need. Kept as a
   * lease (`connectorVerify`) that the check takes and lets expire.
   */
  readonly verifyInterval?: { readonly leases: LeaseStore; readonly ms: number };
}

const verifyLeaseName = "connectorVerify";

export interface HealthReport {
  readonly health: ConnectorHealth;
  readonly checkedAt: string;
  readonly detail: string;
}

interface Finding {
  readonly health: ConnectorHealth;
  readonly detail: string;
  /** undefined = keep the stored lastError (it already says why). */
  readonly lastError: ConnectorError | null | undefined;
  readonly account?: TeamViewerAccountInfo;
}

const target = { type: "connector", id: connectorId } as const;

function reauthorizationFinding(lastError: ConnectorError | null): Finding {
  return { health: connectorHealths.reauthorizationRequired, detail: lastError?.message ?? reauthorizationRequired().detail, lastError: undefined };
}
function replacedFinding(health: ConnectorHealth | null): Finding {
  return {
    health: health ?? connectorHealths.healthy,
    detail: "The connector was connected again while it was checked; this check was of the old connection and changed nothing. Check again.",
    lastError: undefined,
  };
}
/** Tenants checked at once by the timer: bounded so a large fleet does not burst TeamViewer. */
const timerConcurrency = 4;

export class ConnectorHealthCheck {
  readonly #d: ConnectorHealthDeps;
  readonly #rows: TimerRows;

  constructor(deps: ConnectorHealthDeps) {
    this.#d = deps;
    this.#rows = new TimerRows(deps.audit);
  }

  /** POST /api/connector/verify: check now, record it, and say what was found. */
  async verify(caller: UserCaller, correlationId: string, log: Logger): Promise<HealthReport> {
    requireRead(await this.#d.access.permissionsOf(caller));
    const turn = await this.#takeVerifyTurn(caller.tenantId);
    try {
      return await this.#check(caller.tenantId, actorOf(caller), correlationId, log, true);
    } catch (e) {
      // Nothing was recorded: the quota held the check back, or there is no connector to
      // check yet. It takes no turn: the first verify after onboarding is not refused.
      const notOnboarded = e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded;
      // Best effort: a release that fails leaves the turn to expire; the caller still hears why.
      if (turn && (isQuotaExhausted(e) || notOnboarded)) {
        await turn.leases.release(caller.tenantId, verifyLeaseName, turn.owner, turn.fence).catch((releaseError: unknown) => {
          log.warn("could not give back the connector check's turn", { error: releaseError instanceof Error ? releaseError.message : String(releaseError) });
        });
      }
      if (!isQuotaExhausted(e)) throw e;
      const seconds = Math.max(1, Math.ceil((e.retryAt.getTime() - this.#d.clock.now().getTime()) / 1000));
      throw rateLimited(
        `The tenant's TeamViewer quota has no room for the check now${e.byTeamViewer ? " (TeamViewer reported its rate limit as reached)" : ""}; try again in ${seconds} s.`,
        seconds,
      );
    }
  }

  /** 429 while another verify of the tenant was made less than the interval ago (by anyone). */
  async #takeVerifyTurn(tenantId: string): Promise<{ leases: LeaseStore; owner: string; fence: number } | undefined> {
    const interval = this.#d.verifyInterval;
    if (!interval || interval.ms <= 0) return undefined;
    // A fresh owner per check: the store hands a lease back to its own owner, and the
    // correlation id is the caller's to choose (x-correlation-id).
    const owner = `verify/${randomUUID()}`;
    const lease = await interval.leases.tryAcquire(tenantId, verifyLeaseName, owner, interval.ms);
    if (lease) return { leases: interval.leases, owner, fence: lease.fence };
    const held = await interval.leases.get(tenantId, verifyLeaseName);
    const waitMs = held ? held.expiresAt.getTime() - this.#d.clock.now().getTime() : 1000;
    const seconds = Math.min(Math.ceil(interval.ms / 1000), Math.max(1, Math.ceil(waitMs / 1000)));
    throw rateLimited(
      `The connection was checked less than ${Math.ceil(interval.ms / 1000)} s ago (each check uses the tenant's TeamViewer quota); try again in ${seconds} s.`,
      seconds,
    );
  }

  /** Timer: every onboarded tenant, a few at a time; one tenant's failure does not stop the others. */
  async checkAll(log: Logger): Promise<{ checked: number; byHealth: Record<string, number> }> {
    const tenants = await this.#d.connectors.listOnboarded();
    const byHealth: Record<string, number> = {};
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tenants.length) {
        const tenantId = tenants[next++];
        try {
          const r = await this.#check(tenantId, systemActor, undefined, log.with({ tenantId }), false);
          byHealth[r.health] = (byHealth[r.health] ?? 0) + 1;
        } catch (e) {
          if (e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded) continue; // disconnected meanwhile
          if (isQuotaExhausted(e)) {
            // Sessions need the quota more than a routine check does: checked again next round.
            log.info("connector health check skipped: no room in the tenant's TeamViewer quota", { tenantId, until: e.retryAt.toISOString() });
            continue;
          }
          // TeamViewer trouble is a health finding, recorded by the check; what lands here is
          // this tenant's own row or an outage. A bad row is audited; an outage is only logged.
          if (isOutage(e)) log.error("connector health check failed", e, { tenantId });
          else await this.#rows.skipped("connectorHealth", { tenantId, target }, log, e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(timerConcurrency, tenants.length) }, worker));
    log.info("connector health checked", { checked: tenants.length, byHealth });
    return { checked: tenants.length, byHealth };
  }

  async #check(tenantId: string, actor: Actor, correlationId: string | undefined, log: Logger, alwaysAudit: boolean): Promise<HealthReport> {
    const before = await this.#d.connectors.get(tenantId);
    if (before?.onboardingStatus !== onboardingStatuses.onboarded) throw connectorNotOnboarded();
    // A refused refresh token stays refused, even while a cached access token still works:
    // only a new sign-in clears reauthorizationRequired.
    const probed: Finding =
      before.health === connectorHealths.reauthorizationRequired ? reauthorizationFinding(before.lastError) : await this.#probe(tenantId, log);
    const now = this.#d.clock.now().toISOString();
    let previous: ConnectorHealth | null = null;
    let finding = probed;
    const after = await this.#d.connectors.update(tenantId, (s) => {
      if (s.onboardingStatus !== onboardingStatuses.onboarded) return undefined;
      previous = s.health;
      if (s.generation !== before.generation) {
        // Disconnected and connected again while this check ran: what it found is about the
        // old connection's token (and account), never to be written onto the new one.
        finding = replacedFinding(s.health);
        return undefined;
      }
      // Another instance found the refresh token refused while this check ran.
      finding = s.health === connectorHealths.reauthorizationRequired ? reauthorizationFinding(s.lastError) : probed;
      return {
        ...s,
        health: finding.health,
        lastConnectionDateTime: finding.health === connectorHealths.healthy ? now : s.lastConnectionDateTime,
        lastError: finding.lastError === undefined ? s.lastError : finding.lastError,
        account: finding.account
          ? {
              userId: finding.account.userId,
              name: finding.account.name,
              email: finding.account.email ?? null,
              companyName: finding.account.companyName ?? null,
            }
          : s.account,
      };
    });
    if (after.onboardingStatus !== onboardingStatuses.onboarded) throw connectorNotOnboarded();
    // The timer audits changes only: an unchanged health every five minutes is noise.
    if (alwaysAudit || previous !== finding.health) {
      await this.#d.audit.record({
        tenantId,
        actor,
        activity: alwaysAudit ? "connector.verify" : "connector.health",
        target,
        result: finding.health === connectorHealths.healthy && finding.lastError === null ? "success" : "failure",
        detail: `${finding.health}: ${finding.detail}`.slice(0, 1000),
        correlationId,
      });
    }
    return { health: finding.health, checkedAt: now, detail: finding.detail };
  }

  async #probe(tenantId: string, log: Logger): Promise<Finding> {
    const at = this.#d.clock.now().toISOString();
    try {
      const account = await this.#d.tokens.withAccessToken(tenantId, async (accessToken) => {
        const teamViewer = this.#d.teamViewer.forTenant(tenantId);
        const ping = await teamViewer.ping(accessToken);
        // A 200 with token_valid false is TeamViewer's way of saying 401 here: renew once, like a 401.
        if (!ping.tokenValid) throw new TeamViewerError("invalidToken", "GET /ping: TeamViewer reports the token as not valid.");
        return teamViewer.getAccount(accessToken);
      });
      const license = assessLicense(account.licenseType);
      if (!license.sufficient) {
        return {
          health: connectorHealths.healthy,
          detail: license.message,
          lastError: { code: connectorErrorCodes.teamViewerLicenseInsufficient, message: license.message, at },
          account,
        };
      }
      return {
        health: connectorHealths.healthy,
        detail: `TeamViewer answered and accepts the token of account ${account.name}${license.name ? ` (${license.name} licence)` : ""}.`,
        lastError: null,
        account,
      };
    } catch (e) {
      if (isReauthorizationRequired(e)) {
        return { health: connectorHealths.reauthorizationRequired, detail: (e as DomainError).detail, lastError: undefined };
      }
      if (e instanceof UnreadableStoredToken) {
        // Our own secret, not TeamViewer: retrying reads the same value, so say what ends it.
        log.error("the connector's stored TeamViewer token cannot be read", e, { tenantId });
        const message = "The connector's TeamViewer token in Key Vault cannot be read. Connect again to re-authorize.";
        return {
          health: connectorHealths.reauthorizationRequired,
          detail: message,
          lastError: { code: connectorErrorCodes.reauthorizationRequired, message, at },
        };
      }
      if (isAccessTokenRefused(e)) {
        const message = "TeamViewer does not accept the connector's token even after renewing it. Connect again to re-authorize.";
        return {
          health: connectorHealths.reauthorizationRequired,
          detail: message,
          lastError: { code: connectorErrorCodes.reauthorizationRequired, message, at },
        };
      }
      if (isTeamViewerError(e)) {
        log.warn("TeamViewer health check failed", { errorCode: e.code });
        const message = e.transient ? `TeamViewer could not be reached: ${e.message}` : `TeamViewer answered unexpectedly: ${e.message}`;
        return { health: connectorHealths.unreachable, detail: message, lastError: { code: connectorErrorCodes.teamViewerUnreachable, message, at } };
      }
      throw e;
    }
  }
}
