// Connector use cases behind the HTTP API and the onboarding timer: read the connector,
// start an onboarding (consent + OAuth state), take the browser back from TeamViewer,
// ask for a disconnect, and return abandoned onboardings to notOnboarded.
import { actorOf, systemActor, type Actor, type UserCaller } from "../../domain/caller.js";
import {
  connectAllowed,
  connectorDisplayName,
  connectorErrorCodes,
  connectorId,
  expireOnboarding,
  initialConnectorState,
  licenseAgreement,
  onboardingExpired,
  onboardingLifetimeMs,
  onboardingStatuses,
  resetConnector,
  type ConnectorState,
} from "../../domain/connector.js";
import { conflict } from "../../domain/errors.js";
import { requireIntuneLicense, requireRead, requireUpdate } from "../../domain/permissions.js";
import type { ConnectorView, OAuthCallbackQuery } from "../../contracts/connector.js";
import { makeEnvelope, messageQueue } from "../../contracts/messages.js";
import type { MessageBus } from "../messageBus.js";
import type { Access } from "../access.js";
import type { SettingsStore, UserStore } from "../admin/ports.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import { TimerRows } from "../timerRows.js";
import { invalidOAuthState } from "./connectorErrors.js";
import { hashOAuthState, newOAuthState } from "./oauthState.js";
import { oauthStateStatuses, type ConnectorStore, type OAuthStateRecord, type OAuthStateStore, type TeamViewerAuthApi } from "./ports.js";

export interface ConnectorServiceDeps {
  readonly access: Access;
  readonly users: UserStore;
  readonly settings: SettingsStore;
  readonly connectors: ConnectorStore;
  readonly states: OAuthStateStore;
  readonly teamViewer: Pick<TeamViewerAuthApi, "authorizeUrl">;
  readonly bus: Pick<MessageBus, "send">;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly portalUrl: string;
}

export interface ConnectResult {
  readonly authorizeUrl: string;
  readonly onboardingStatus: "onboarding";
  readonly expiresAt: string;
}

export const signInResults = { pending: "pending", denied: "denied", failed: "failed" } as const;
export type SignInResult = (typeof signInResults)[keyof typeof signInResults];

/**
 * OAuth states are kept this long after they expire, so a late redelivered message still
 * finds its state; a state whose code was exchanged is kept until its message completes it.
 */
const stateRetentionMs = 60 * 60_000;
const target = { type: "connector", id: connectorId } as const;

/** The portal's connector page with a non-secret outcome: `<portal>#/connector?result=pending`. */
export function connectorPageUrl(portalUrl: string, result: SignInResult): string {
  const url = new URL(portalUrl);
  url.hash = `/connector?result=${result}`;
  return url.toString();
}

/** The API shape of a stored connector, as of `now` (an expired onboarding already shows as notOnboarded). */
export function connectorView(stored: ConnectorState | undefined, now: Date): ConnectorView {
  const s = stored && onboardingExpired(stored, now) ? expireOnboarding(stored, now) : (stored ?? initialConnectorState);
  return {
    id: connectorId,
    displayName: connectorDisplayName,
    onboardingStatus: s.onboardingStatus,
    health: s.health,
    account: s.account,
    licenseAgreement: s.licenseAgreement,
    onboardedAt: s.onboardedAt,
    lastConnectionDateTime: s.lastConnectionDateTime,
    lastError: s.lastError,
    onboardingRequestExpiryDateTime: s.onboardingStatus === onboardingStatuses.onboarding ? s.onboardingRequestExpiryDateTime : null,
    consent: { version: licenseAgreement.version, text: licenseAgreement.text },
  };
}

export class ConnectorService {
  readonly #d: ConnectorServiceDeps;
  readonly #rows: TimerRows;

  constructor(deps: ConnectorServiceDeps) {
    this.#rows = new TimerRows(deps.audit);
    this.#d = deps;
  }

  async view(caller: UserCaller): Promise<ConnectorView> {
    requireRead(await this.#d.access.permissionsOf(caller));
    return connectorView(await this.#d.connectors.get(caller.tenantId), this.#d.clock.now());
  }

  async connect(caller: UserCaller, correlationId: string): Promise<ConnectResult> {
    const tenantId = caller.tenantId;
    requireUpdate(await this.#d.access.permissionsOf(caller));
    const [user, settings] = await Promise.all([this.#d.users.get(tenantId, caller.userId), this.#d.settings.get(tenantId)]);
    try {
      requireIntuneLicense(user, settings);
    } catch (e) {
      await this.#audit(tenantId, actorOf(caller), "connector.connect", "failure", "refused: the admin holds no Intune license", correlationId);
      throw e;
    }
    const current = await this.#d.connectors.get(tenantId);
    const check = connectAllowed(current ?? initialConnectorState);
    if (!check.allowed) throw conflict(check.reason);

    const now = this.#d.clock.now();
    const expiresAt = new Date(now.getTime() + onboardingLifetimeMs).toISOString();
    const { state, id } = newOAuthState();
    // This attempt's generation: the worker stores its token only while the connector is still at it.
    const generation = (current?.generation ?? 0) + 1;
    await this.#d.states.create({
      id,
      tenantId,
      status: oauthStateStatuses.issued,
      createdBy: caller.userId,
      createdByName: caller.displayName,
      createdAt: now.toISOString(),
      expiresAt,
      generation,
    });
    await this.#d.connectors.update(tenantId, (s) => {
      const again = connectAllowed(s);
      if (!again.allowed) throw conflict(again.reason);
      if (s.generation + 1 !== generation) throw conflict("The connector changed while connecting (another connect or a disconnect). Try again.");
      // A new onboarding replaces any earlier one: its state no longer matches pendingStateId.
      return {
        ...initialConnectorState,
        generation,
        onboardingStatus: onboardingStatuses.onboarding,
        licenseAgreement: {
          acceptedBy: { id: caller.userId, displayName: caller.displayName },
          acceptedAt: now.toISOString(),
          version: licenseAgreement.version,
        },
        onboardingRequestExpiryDateTime: expiresAt,
        pendingStateId: id,
      };
    });
    await this.#audit(
      tenantId,
      actorOf(caller),
      "connector.connect",
      "success",
      `license agreement version ${licenseAgreement.version} accepted; waiting for the TeamViewer sign-in until ${expiresAt}`,
      correlationId,
    );
    return { authorizeUrl: this.#d.teamViewer.authorizeUrl(state), onboardingStatus: "onboarding", expiresAt };
  }

  /**
   * The browser is back from TeamViewer. The state is the only credential of this
   * anonymous request: unknown, used, expired or superseded states change nothing.
   * Answers where to send the browser.
   */
  async completeSignIn(query: OAuthCallbackQuery, correlationId: string, log: Logger): Promise<{ redirectTo: string; result: SignInResult }> {
    const id = hashOAuthState(query.state);
    const record = await this.#d.states.get(id);
    if (!record) {
      // No tenant to file an audit event under: the log line is the record.
      log.warn("OAuth callback with an unknown state");
      throw invalidOAuthState("The sign-in link is not valid. Start again from the connector page.");
    }
    const tenantId = record.tenantId;
    const actor = stateActor(record);
    const reject = async (why: string, detail: string): Promise<never> => {
      log.warn(`OAuth callback rejected: ${why}`, { tenantId });
      await this.#audit(tenantId, actor, "connector.authorize", "failure", `OAuth callback rejected: ${why}`, correlationId);
      throw invalidOAuthState(detail);
    };
    const now = this.#d.clock.now();
    if (record.status !== oauthStateStatuses.issued) {
      return reject("the state was already used (replayed callback)", "This sign-in link was already used. Start again from the connector page.");
    }
    if (Date.parse(record.expiresAt) <= now.getTime()) {
      return reject("the state has expired", "The sign-in took longer than 10 minutes. Start again from the connector page.");
    }
    const connector = await this.#d.connectors.get(tenantId);
    if (connector?.onboardingStatus !== onboardingStatuses.onboarding || connector.pendingStateId !== id) {
      return reject(
        "the onboarding it belongs to was replaced or has ended",
        "This sign-in was replaced by a newer one or cancelled. Start again from the connector page.",
      );
    }

    if (query.error !== undefined) return this.#signInRefused(record, query.error, correlationId);

    if (!(await this.#d.states.transition(id, oauthStateStatuses.issued, oauthStateStatuses.redeemed))) {
      return reject("the state was already used (replayed callback)", "This sign-in link was already used. Start again from the connector page.");
    }
    // The code lives 10 minutes from now: the worker gets that long before the onboarding lapses.
    const extended = new Date(now.getTime() + onboardingLifetimeMs).toISOString();
    const message = makeEnvelope("connector.authorize", tenantId, { stateId: id, code: query.code! }, { correlationId, now });
    try {
      await this.#d.connectors.update(tenantId, (s) =>
        s.pendingStateId === id && s.onboardingStatus === onboardingStatuses.onboarding ? { ...s, onboardingRequestExpiryDateTime: extended } : undefined,
      );
      await this.#d.bus.send({ queue: messageQueue["connector.authorize"], id: message.id, type: message.type, correlationId, body: message });
    } catch (e) {
      // Not queued: give the state back, so the browser's retry of this callback still works.
      await this.#d.states.transition(id, oauthStateStatuses.redeemed, oauthStateStatuses.issued).catch((restoreError: unknown) => {
        // The queue's error is what the caller gets; a retry of this callback is then told to start again.
        log.warn("could not give the OAuth state back after the sign-in could not be queued", {
          tenantId,
          error: restoreError instanceof Error ? restoreError.message : String(restoreError),
        });
      });
      throw e;
    }
    await this.#audit(tenantId, actor, "connector.signIn", "success", "TeamViewer sign-in completed; token exchange queued", correlationId);
    return { redirectTo: connectorPageUrl(this.#d.portalUrl, signInResults.pending), result: signInResults.pending };
  }

  async #signInRefused(record: OAuthStateRecord, error: string, correlationId: string): Promise<{ redirectTo: string; result: SignInResult }> {
    const denied = error === "access_denied";
    // The error value comes from the browser's query string: only a plain OAuth error code is kept.
    const code = /^[a-z_]{1,64}$/.test(error) ? error : "unknown";
    if (!(await this.#d.states.transition(record.id, oauthStateStatuses.issued, oauthStateStatuses.completed))) {
      throw invalidOAuthState("This sign-in link was already used. Start again from the connector page.");
    }
    const at = this.#d.clock.now().toISOString();
    await this.#d.connectors.update(record.tenantId, (s) =>
      s.pendingStateId === record.id
        ? resetConnector(
            s,
            denied
              ? { code: connectorErrorCodes.accessDenied, message: "The TeamViewer sign-in was cancelled or the consent was denied.", at }
              : { code: connectorErrorCodes.authorizationFailed, message: `TeamViewer did not authorize the connector (${code}).`, at },
          )
        : undefined,
    );
    await this.#audit(
      record.tenantId,
      stateActor(record),
      denied ? "connector.consentDenied" : "connector.authorize",
      "failure",
      denied ? "the admin denied the consent at TeamViewer" : `TeamViewer answered the sign-in with error ${code}`,
      correlationId,
    );
    const result = denied ? signInResults.denied : signInResults.failed;
    return { redirectTo: connectorPageUrl(this.#d.portalUrl, result), result };
  }

  /** Queues the disconnect; the worker revokes, deletes the secret and closes sessions. */
  async requestDisconnect(caller: UserCaller, correlationId: string): Promise<ConnectorView> {
    const tenantId = caller.tenantId;
    requireUpdate(await this.#d.access.permissionsOf(caller));
    const now = this.#d.clock.now();
    // The connection to undo is the one there is now: a connect begun before the worker
    // gets to the message (Disconnect, then Connect at once) is not this disconnect's.
    const current = await this.#d.connectors.get(tenantId);
    const message = makeEnvelope(
      "connector.disconnect",
      tenantId,
      { requestedBy: { id: caller.userId, displayName: caller.displayName }, generation: current?.generation ?? 0 },
      { correlationId, now },
    );
    await this.#d.bus.send({ queue: messageQueue["connector.disconnect"], id: message.id, type: message.type, correlationId, body: message });
    await this.#audit(tenantId, actorOf(caller), "connector.disconnect", "success", "disconnect requested", correlationId);
    return connectorView(current, now);
  }

  /** Timer: onboardings nobody finished within 10 minutes go back to notOnboarded; old states go. */
  async expireStaleOnboardings(log: Logger): Promise<{ expired: number; purgedStates: number }> {
    const now = this.#d.clock.now();
    let expired = 0;
    for (const tenantId of await this.#d.connectors.listExpiredOnboardings(now)) {
      // A connector row that cannot be read or written is skipped (logged, audited), not the end of the sweep.
      await this.#rows.process("connectorOnboardingExpiry", { tenantId, target }, log, async () => {
        let changed = false;
        await this.#d.connectors.update(tenantId, (s) => {
          changed = onboardingExpired(s, now);
          return changed ? expireOnboarding(s, now) : undefined;
        });
        if (!changed) return;
        expired++;
        await this.#audit(tenantId, systemActor, "connector.onboardingExpired", "failure", "the TeamViewer sign-in was not completed within 10 minutes");
      });
    }
    const purgedStates = await this.#d.states.purgeExpired(new Date(now.getTime() - stateRetentionMs));
    if (expired > 0 || purgedStates > 0) log.info("connector onboarding sweep", { expired, purgedStates });
    return { expired, purgedStates };
  }

  async #audit(tenantId: string, actor: Actor, activity: string, result: "success" | "failure", detail: string, correlationId?: string): Promise<void> {
    await this.#d.audit.record({ tenantId, actor, activity, target, result, detail, correlationId });
  }
}

/** The admin who started the onboarding acts through the anonymous callback. */
export function stateActor(record: OAuthStateRecord): Actor {
  return { id: record.createdBy, displayName: record.createdByName, type: "user" };
}
