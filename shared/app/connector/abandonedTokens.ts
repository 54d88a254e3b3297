// The tokens of a sign-in that will not become the connection: its onboarding was replaced,
// cancelled or expired after the code was exchanged, or its connector.authorize message was
// dead-lettered. They are revoked at TeamViewer (best effort) and deleted from Key Vault, but
// only while the secret still holds them, so a newer connection's token is never touched.
import { onboardingStatuses, type ConnectorState } from "../../domain/connector.js";
import type { Logger } from "../logging.js";
import { retried } from "./retried.js";
import { oauthStateStatuses, type OAuthStateStore, type StoredToken, type TeamViewerAuthApi, type TokenVault } from "./ports.js";
import type { TokenProvider } from "./tokenProvider.js";

export interface AbandonedTokenDeps {
  readonly vault: TokenVault;
  readonly tokens: Pick<TokenProvider, "withTokenLease" | "invalidate">;
  readonly teamViewer: Pick<TeamViewerAuthApi, "revoke">;
}

/** Deletes the secret only while it holds `token` (checked and deleted under the token lease). */
export async function removeIfOurs(d: AbandonedTokenDeps, tenantId: string, token: StoredToken): Promise<void> {
  await d.tokens.withTokenLease(tenantId, async () => {
    const stored = await d.vault.read(tenantId);
    if (stored?.accessToken === token.accessToken) await d.vault.remove(tenantId);
  });
}

/**
 * Stores a sign-in's token under the token lease while `stillCurrent()` (false: not stored).
 * What it replaces is an ended connection's token or an abandoned sign-in's, which nobody
 * will use again but Key Vault keeps among the secret's old versions: it is revoked (best effort).
 */
export async function storeSignIn(
  d: AbandonedTokenDeps,
  tenantId: string,
  token: StoredToken,
  stillCurrent: () => Promise<boolean>,
  log: Logger,
): Promise<boolean> {
  let replaced: StoredToken | undefined;
  const stored = await d.tokens.withTokenLease(tenantId, async () => {
    if (!(await stillCurrent())) return false;
    // Only to revoke it: a secret that cannot be read must not keep the new token out.
    replaced = await d.vault.read(tenantId).catch(() => undefined);
    await retried(() => d.vault.write(tenantId, token));
    return true;
  });
  if (stored && replaced && replaced.accessToken !== token.accessToken) {
    await d.teamViewer.revoke(replaced.accessToken).catch((e: unknown) => {
      log.warn("could not revoke the TeamViewer token a sign-in replaced", { tenantId, error: e instanceof Error ? e.message : String(e) });
    });
  }
  return stored;
}

/** Revokes `token` at TeamViewer (best effort) and deletes the secret if it still holds it; answers whether TeamViewer revoked it. */
export async function revokeAndRemove(d: AbandonedTokenDeps, tenantId: string, token: StoredToken, log: Logger): Promise<boolean> {
  const revoked = await d.teamViewer.revoke(token.accessToken).then(
    () => true,
    (e: unknown) => {
      log.warn("could not revoke the tokens of an abandoned onboarding", { error: e instanceof Error ? e.message : String(e) });
      return false;
    },
  );
  await removeIfOurs(d, tenantId, token);
  return revoked;
}

/**
 * The tokens a dead-lettered authorization stored before it failed (its state still
 * `exchanged`): revoked and removed if Key Vault still holds its generation's token and
 * `connector` (as the dead-letter handler left it) was not onboarded with it; the state is
 * completed either way. `pendingGeneration` is the connector's generation if it was still
 * waiting for this state. Answers what the audit event adds (never the token).
 */
export async function abandonExchanged(
  d: AbandonedTokenDeps & { readonly states: OAuthStateStore },
  attempt: { tenantId: string; stateId: string; connector: ConnectorState; pendingGeneration: number | undefined },
  log: Logger,
): Promise<string> {
  const { tenantId, stateId, connector } = attempt;
  const record = await d.states.get(stateId);
  if (record?.tenantId !== tenantId || record.status !== oauthStateStatuses.exchanged) return "";
  // A state without a generation (issued before generations existed) is this attempt's only while still pending.
  const attemptGeneration = record.generation ?? attempt.pendingGeneration;
  let detail = "";
  if (attemptGeneration !== undefined) {
    const tokenGeneration = attemptGeneration + 1;
    const stored = await d.vault.read(tenantId);
    const onboardedWithIt = connector.onboardingStatus === onboardingStatuses.onboarded && connector.generation === tokenGeneration;
    if (stored?.generation === tokenGeneration && !onboardedWithIt) {
      const revoked = await revokeAndRemove(d, tenantId, stored, log);
      d.tokens.invalidate(tenantId);
      detail = revoked
        ? "; the TeamViewer token of its sign-in was revoked and deleted"
        : "; the TeamViewer token of its sign-in was deleted, but TeamViewer could not revoke it";
    }
  }
  await d.states.transition(stateId, oauthStateStatuses.exchanged, oauthStateStatuses.completed);
  return detail;
}
