// The connector-commands worker: finishes an onboarding (code → tokens → Key Vault →
// account → onboarded) and disconnects (close sessions, revoke, delete the secret: in
// connectorDisconnect.ts).
// Both are idempotent: a redelivered message does no work twice and never spends the
// authorization code a second time once its tokens are stored.
import { systemActor, type Actor } from "../../domain/caller.js";
import {
  assessLicense,
  connectorErrorCodes,
  connectorHealths,
  connectorId,
  onboardingStatuses,
  resetConnector,
  type ConnectorError,
  type ConnectorState,
} from "../../domain/connector.js";
import { isTeamViewerError } from "../teamViewerError.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { MessageBus } from "../messageBus.js";
import { abandonExchanged, removeIfOurs, revokeAndRemove, storeSignIn } from "./abandonedTokens.js";
import { disconnect, disconnectDeadLettered, type DisconnectCommand } from "./connectorDisconnect.js";
import { exchangeFailureMessage, invalidOAuthState } from "./connectorErrors.js";
import { retried } from "./retried.js";
import { stateActor } from "./connectorService.js";
import {
  oauthStateStatuses,
  type ConnectorStore,
  type OAuthStateStore,
  type OpenSessionsCloser,
  type StoredToken,
  type TeamViewerAuthApi,
  type TokenVault,
} from "./ports.js";
import type { TokenProvider } from "./tokenProvider.js";
import type { TeamViewerByTenant } from "../quota/teamViewerQuota.js";

export interface ConnectorWorkerDeps {
  readonly connectors: ConnectorStore;
  readonly states: OAuthStateStore;
  readonly vault: TokenVault;
  readonly tokens: Pick<TokenProvider, "withAccessToken" | "withTokenLease" | "invalidate">;
  /** The OAuth endpoints (not counted against the quota). */
  readonly teamViewer: Pick<TeamViewerAuthApi, "exchangeCode" | "revoke">;
  /** Web API calls, counted against the tenant's TeamViewer quota. */
  readonly webApi: TeamViewerByTenant;
  readonly openSessions: OpenSessionsCloser;
  /** For a disconnect's follow-up messages (a big tenant's sessions are closed a page per message). */
  readonly bus: MessageBus;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** How long after a disconnect other instances may still admit a session request (their kept connector status, and the request's way to storage). */
  readonly settleMs?: number;
}

const target = { type: "connector", id: connectorId } as const;

export type { DisconnectCommand } from "./connectorDisconnect.js";

/** Finish the onboarding whose OAuth state is `stateId`: exchange `code`, store the tokens, read the account. */
export interface AuthorizeCommand {
  readonly tenantId: string;
  /** The oauthStates row (the state's hash), never the state itself. */
  readonly stateId: string;
  /** The OAuth authorization code: single use, never logged or audited. */
  readonly code: string;
  readonly correlationId: string | undefined;
}

/** A connector command Service Bus gave up on; an authorization's code is not carried. */
export type DeadLetteredConnectorCommand =
  ({ readonly kind: "authorize" } & Omit<AuthorizeCommand, "code">) | ({ readonly kind: "disconnect" } & DisconnectCommand);

export class ConnectorWorker {
  readonly #d: ConnectorWorkerDeps;

  constructor(deps: ConnectorWorkerDeps) {
    this.#d = deps;
  }

  async authorize(command: AuthorizeCommand, log: Logger): Promise<void> {
    const { tenantId, stateId, code, correlationId } = command;
    const record = await this.#d.states.get(stateId);
    if (!record) throw invalidOAuthState("The OAuth state of this authorization is unknown or has been removed; nothing was stored.");
    // The state names the tenant that started the onboarding; a message may not borrow it.
    if (record.tenantId !== tenantId) throw invalidOAuthState("The OAuth state belongs to another tenant; nothing was stored.");
    if (record.status === oauthStateStatuses.completed) {
      log.info("connector.authorize already processed for this state");
      return;
    }
    if (record.status === oauthStateStatuses.issued) throw invalidOAuthState("The OAuth state was never redeemed by the sign-in callback; nothing was stored.");
    const actor = stateActor(record);

    // The connect attempt this state belongs to: the connector must still be at its
    // generation and waiting for this state, or a newer attempt (or a disconnect) has
    // replaced it and its token must never touch the newer one's.
    const opened = await this.#d.connectors.get(tenantId);
    const attemptGeneration = record.generation ?? opened?.generation ?? 0;
    const tokenGeneration = attemptGeneration + 1;
    const current = (s: ConnectorState | undefined): boolean =>
      s?.onboardingStatus === onboardingStatuses.onboarding && s.pendingStateId === stateId && s.generation === attemptGeneration;

    let token: StoredToken | undefined;
    if (record.status === oauthStateStatuses.redeemed) {
      if (!current(opened)) {
        // Replaced before the code was spent: nothing is exchanged, nothing stored.
        await this.#d.states.transition(stateId, oauthStateStatuses.redeemed, oauthStateStatuses.completed);
        await this.#audit(
          tenantId,
          actor,
          "connector.authorize",
          "failure",
          "the onboarding was replaced, cancelled or expired before its code was exchanged; nothing was stored",
          correlationId,
        );
        return;
      }
      let issued;
      try {
        issued = await this.#d.teamViewer.exchangeCode(code);
      } catch (e) {
        if (isTeamViewerError(e) && !e.transient) {
          await this.#failOnboarding(
            tenantId,
            stateId,
            oauthStateStatuses.redeemed,
            exchangeFailureMessage(e),
            `${e.code}: ${e.message}`,
            actor,
            correlationId,
          );
          return;
        }
        throw e;
      }
      const exchanged: StoredToken = { ...issued, generation: tokenGeneration };
      // The code is spent: store the tokens before anything else can fail, so a redelivery
      // resumes from here; but only under the token lease and while this attempt is current.
      let stored: boolean;
      try {
        stored = await storeSignIn(this.#d, tenantId, exchanged, async () => current(await retried(() => this.#d.connectors.get(tenantId))), log);
      } catch (e) {
        // A redelivery could only present the spent code again: end the attempt here, truthfully.
        log.error("could not store the TeamViewer token of a sign-in in Key Vault", e, { tenantId });
        const revoked = await this.#d.teamViewer.revoke(exchanged.accessToken).then(
          () => true,
          () => false,
        );
        await removeIfOurs(this.#d, tenantId, exchanged).catch(() => undefined); // in case the write landed after all
        const message = "The TeamViewer sign-in succeeded, but its token could not be stored in Key Vault. Connect again.";
        const detail = `the exchanged token could not be stored in Key Vault; ${revoked ? "it was revoked at TeamViewer" : "TeamViewer could not revoke it"}`;
        return this.#failOnboarding(tenantId, stateId, oauthStateStatuses.redeemed, message, detail, actor, correlationId);
      }
      if (!stored) {
        await this.#discard(tenantId, stateId, oauthStateStatuses.redeemed, exchanged, actor, correlationId, log);
        return;
      }
      token = exchanged;
      await this.#d.states.transition(stateId, oauthStateStatuses.redeemed, oauthStateStatuses.exchanged);
    } else {
      token = await this.#d.vault.read(tenantId);
      if (!token || token.generation !== tokenGeneration) {
        if (!current(opened)) {
          // A newer connection's token (or none): not ours to use or delete.
          await this.#d.states.transition(stateId, oauthStateStatuses.exchanged, oauthStateStatuses.completed);
          await this.#audit(
            tenantId,
            actor,
            "connector.authorize",
            "failure",
            "the onboarding was replaced, cancelled or expired before it completed; the newer connection was left alone",
            correlationId,
          );
          return;
        }
        await this.#failOnboarding(
          tenantId,
          stateId,
          oauthStateStatuses.exchanged,
          "The TeamViewer token of this sign-in was lost before the connector was onboarded. Connect again.",
          "the exchanged token is no longer in Key Vault",
          actor,
          correlationId,
        );
        return;
      }
    }
    const ours: StoredToken = token;

    let account;
    try {
      account = await this.#d.webApi.forTenant(tenantId).getAccount(ours.accessToken);
    } catch (e) {
      if (isTeamViewerError(e) && !e.transient) {
        // The token will never be used: revoked (best effort) as well as deleted, not left live at TeamViewer.
        await revokeAndRemove(this.#d, tenantId, ours, log);
        await this.#failOnboarding(
          tenantId,
          stateId,
          oauthStateStatuses.exchanged,
          `TeamViewer did not let the connector read the account: ${e.message}`,
          `${e.code}: ${e.message}`,
          actor,
          correlationId,
        );
        return;
      }
      throw e;
    }

    const now = this.#d.clock.now().toISOString();
    const license = assessLicense(account.licenseType);
    let applied = false;
    const after = await this.#d.connectors.update(tenantId, (s) => {
      applied = current(s);
      if (!applied) return undefined;
      return {
        ...s,
        generation: tokenGeneration,
        onboardingStatus: onboardingStatuses.onboarded,
        health: connectorHealths.healthy,
        account: { userId: account.userId, name: account.name, email: account.email ?? null, companyName: account.companyName ?? null },
        onboardedAt: now,
        lastConnectionDateTime: now,
        lastError: license.sufficient ? null : { code: connectorErrorCodes.teamViewerLicenseInsufficient, message: license.message, at: now },
        onboardingRequestExpiryDateTime: null,
        pendingStateId: null,
      };
    });
    this.#d.tokens.invalidate(tenantId);

    if (!applied && after.onboardingStatus === onboardingStatuses.onboarded && after.generation === tokenGeneration) {
      // A redelivery after this very onboarding completed (the state was not marked yet):
      // the stored token is ours, perhaps refreshed since. Nothing to do but finish the state.
      await this.#d.states.transition(stateId, oauthStateStatuses.exchanged, oauthStateStatuses.completed);
      log.info("connector.authorize redelivered after the connector was onboarded");
      return;
    }
    if (!applied) {
      // The onboarding ended (disconnect, expiry, a newer connect) while the code was exchanged.
      await this.#discard(tenantId, stateId, oauthStateStatuses.exchanged, ours, actor, correlationId, log);
      return;
    }

    await this.#d.states.transition(stateId, oauthStateStatuses.exchanged, oauthStateStatuses.completed);
    log.info("connector onboarded", { tenantId, teamViewerUserId: account.userId });
    await this.#audit(
      tenantId,
      actor,
      "connector.authorize",
      "success",
      `onboarded with TeamViewer account ${account.name} (${account.userId})${license.sufficient ? "" : `; ${license.message}`}`,
      correlationId,
    );
  }

  /** Tokens of an attempt that was replaced: revoked, removed only if still stored as ours, state completed. */
  async #discard(
    tenantId: string,
    stateId: string,
    from: "redeemed" | "exchanged",
    token: StoredToken,
    actor: Actor,
    correlationId: string | undefined,
    log: Logger,
  ): Promise<void> {
    await revokeAndRemove(this.#d, tenantId, token, log);
    await this.#d.states.transition(stateId, from, oauthStateStatuses.completed);
    await this.#audit(
      tenantId,
      actor,
      "connector.authorize",
      "failure",
      "the onboarding was replaced, cancelled or expired before it completed; its tokens were discarded",
      correlationId,
    );
  }

  async #failOnboarding(
    tenantId: string,
    stateId: string,
    from: "redeemed" | "exchanged",
    message: string,
    auditDetail: string,
    actor: Actor,
    correlationId: string | undefined,
  ): Promise<void> {
    const at = this.#d.clock.now().toISOString();
    const lastError: ConnectorError = { code: connectorErrorCodes.authorizationFailed, message, at };
    await this.#d.connectors.update(tenantId, (s) => (s.pendingStateId === stateId ? resetConnector(s, lastError) : undefined));
    await this.#d.states.transition(stateId, from, oauthStateStatuses.completed);
    await this.#audit(tenantId, actor, "connector.authorize", "failure", auditDetail, correlationId);
  }

  async disconnect(command: DisconnectCommand, log: Logger): Promise<void> {
    await disconnect(this.#d, command, log);
  }

  /**
   * A connector command Service Bus gave up on: the onboarding or disconnect is recorded as
   * failed. An authorization that had already exchanged its code (state `exchanged`) left
   * its token in Key Vault: it is revoked and deleted as a replaced attempt's is, unless it
   * became the connection after all. Safe to run twice.
   */
  async deadLettered(command: DeadLetteredConnectorCommand, reason: string | undefined, log: Logger): Promise<void> {
    const at = this.#d.clock.now().toISOString();
    const why = reason ? ` (${reason})` : "";
    if (command.kind === "authorize") {
      const { tenantId, stateId } = command;
      let pendingGeneration: number | undefined;
      const after = await this.#d.connectors.update(tenantId, (s) => {
        if (s.pendingStateId !== stateId) return undefined;
        pendingGeneration = s.generation;
        return resetConnector(s, {
          code: connectorErrorCodes.authorizationFailed,
          message: "The TeamViewer sign-in could not be completed. Connect again.",
          at,
        });
      });
      const tokens = await abandonExchanged(this.#d, { tenantId, stateId, connector: after, pendingGeneration }, log);
      await this.#audit(tenantId, systemActor, "connector.authorize", "failure", `dead-lettered${why}${tokens}`, command.correlationId);
      return;
    }
    await disconnectDeadLettered(this.#d, command, reason);
  }

  async #audit(tenantId: string, actor: Actor, activity: string, result: "success" | "failure", detail: string, correlationId?: string): Promise<void> {
    await this.#d.audit.record({ tenantId, actor, activity, target, result, detail: detail.slice(0, 1000), correlationId });
  }
}
