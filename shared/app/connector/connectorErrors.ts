// The domain errors the connector area answers with, in one place so every entry point
// (HTTP, queue, the token provider used by sessions) says the same thing.
import { DomainError, errorCodes } from "../../domain/errors.js";
import type { TeamViewerError } from "../teamViewerError.js";

export const notOnboardedReasons = {
  notOnboarded: "notOnboarded",
  reauthorizationRequired: "reauthorizationRequired",
} as const;

export const connectorNotOnboarded = (): DomainError =>
  new DomainError(
    errorCodes.connectorNotOnboarded,
    "The TeamViewer connector of this tenant is not onboarded. An administrator with Update Remote Assistance must connect it first.",
    { extensions: { reason: notOnboardedReasons.notOnboarded } },
  );

/**
 * TeamViewer refused the stored refresh token: the connector exists but cannot act until
 * an admin signs in again. Still a 409 connectorNotOnboarded for callers, with a reason,
 * because to them it is the same situation: no usable connector.
 */
export const reauthorizationRequired = (): DomainError =>
  new DomainError(
    errorCodes.connectorNotOnboarded,
    "The TeamViewer connector must be authorized again: TeamViewer no longer accepts its token. An administrator must connect it again.",
    { extensions: { reason: notOnboardedReasons.reauthorizationRequired } },
  );

export const isReauthorizationRequired = (e: unknown): boolean =>
  e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded && e.extensions?.reason === notOnboardedReasons.reauthorizationRequired;

export const invalidOAuthState = (detail: string): DomainError => new DomainError(errorCodes.invalidOAuthState, detail);

/** Why TeamViewer refused to authorize, in words an admin can act on. */
export function exchangeFailureMessage(e: TeamViewerError): string {
  switch (e.code) {
    case "invalidGrant":
      return "TeamViewer did not accept the sign-in (the authorization code expired or was already used). Connect again.";
    case "invalidClient":
      return "TeamViewer rejected this service's app registration (client id or secret). Ask the service operator to check it.";
    default:
      return `TeamViewer could not complete the sign-in: ${e.message}`;
  }
}
