// The TeamViewer connector of a tenant as pure data: its states, the consent text the
// admin accepts, and the rules that need no I/O (onboarding expiry, licence sufficiency,
// which connect attempts are allowed).

import { names } from "./names.js";

export const connectorId = "teamviewer";
export const connectorDisplayName = "TeamViewer";

export const onboardingStatuses = {
  notOnboarded: "notOnboarded",
  onboarding: "onboarding",
  onboarded: "onboarded",
} as const;
export type OnboardingStatus = (typeof onboardingStatuses)[keyof typeof onboardingStatuses];

export const connectorHealths = names("healthy", "reauthorizationRequired", "unreachable");
export type ConnectorHealth = (typeof connectorHealths)[keyof typeof connectorHealths];

/** Codes of `lastError`: what went wrong last, in words an admin can act on. */
export const connectorErrorCodes = names(
  "accessDenied",
  "authorizationFailed",
  "onboardingExpired",
  "reauthorizationRequired",
  "teamViewerUnreachable",
  "teamViewerLicenseInsufficient",
  "revokeFailed",
  "disconnectFailed",
);
export type ConnectorErrorCode = (typeof connectorErrorCodes)[keyof typeof connectorErrorCodes];

export interface ConnectorError {
  readonly code: ConnectorErrorCode;
  readonly message: string;
  readonly at: string;
}

export interface ConnectorAccount {
  readonly userId: string;
  readonly name: string;
  readonly email: string | null;
  readonly companyName: string | null;
}

export interface LicenseAgreementAcceptance {
  readonly acceptedBy: { readonly id: string; readonly displayName: string };
  readonly acceptedAt: string;
  readonly version: string;
}

/**
 * What is stored per tenant. `pendingStateId` ties an onboarding to the one OAuth state it
 * is waiting for. `generation` only grows: connect, a completed authorization and a
 * disconnect each add one, so every instance can tell (by comparing numbers) that the
 * connection its cached token belongs to has ended or been replaced.
 */
export interface ConnectorState {
  readonly generation: number;
  readonly onboardingStatus: OnboardingStatus;
  readonly health: ConnectorHealth | null;
  readonly account: ConnectorAccount | null;
  readonly licenseAgreement: LicenseAgreementAcceptance | null;
  readonly onboardedAt: string | null;
  readonly lastConnectionDateTime: string | null;
  readonly lastError: ConnectorError | null;
  readonly onboardingRequestExpiryDateTime: string | null;
  readonly pendingStateId: string | null;
}

export const initialConnectorState: ConnectorState = {
  generation: 0,
  onboardingStatus: onboardingStatuses.notOnboarded,
  health: null,
  account: null,
  licenseAgreement: null,
  onboardedAt: null,
  lastConnectionDateTime: null,
  lastError: null,
  onboardingRequestExpiryDateTime: null,
  pendingStateId: null,
};

/**
 * The consent the admin gives on the connector page (docs/architecture.md, "The parts"). The version is
 * recorded with each acceptance; change the version whenever the text changes.
 */
export const licenseAgreement = {
  version: "2026-11-01",
  text:
    "By connecting TeamViewer you agree to the TeamViewer license agreement and allow this service to: " +
    "create, read and close TeamViewer remote assistance sessions for your organization; " +
    "share directory data (device names and user names) with TeamViewer to label those sessions; " +
    "and keep the TeamViewer access token in your organization's Key Vault until the connector is disconnected.",
} as const;

/** How long an onboarding (and its OAuth state) waits for the admin to finish at TeamViewer. */
export const onboardingLifetimeMs = 10 * 60_000;

/** The onboarding has timed out when its expiry has passed. */
export function onboardingExpired(state: ConnectorState, now: Date): boolean {
  return (
    state.onboardingStatus === onboardingStatuses.onboarding &&
    (state.onboardingRequestExpiryDateTime === null || Date.parse(state.onboardingRequestExpiryDateTime) <= now.getTime())
  );
}

/** The state an expired onboarding falls back to. */
export function expireOnboarding(state: ConnectorState, now: Date): ConnectorState {
  return resetConnector(state, {
    code: connectorErrorCodes.onboardingExpired,
    message: "The TeamViewer sign-in was not completed within 10 minutes. Connect again to retry.",
    at: now.toISOString(),
  });
}

/**
 * Back to notOnboarded with `lastError`, keeping the generation (it never goes back).
 * An abandoned onboarding needs no new generation: its OAuth state no longer matches
 * `pendingStateId`, and it never had a token.
 */
export function resetConnector(state: ConnectorState, lastError: ConnectorError | null): ConnectorState {
  return { ...initialConnectorState, generation: state.generation, lastError };
}

/**
 * Whether a new connect may start. A healthy or merely unreachable connector is not
 * replaced by a second sign-in (that would silently switch TeamViewer accounts under
 * open sessions): disconnect first. Re-authorizing a connector whose token TeamViewer
 * refused is exactly what connect is for.
 */
export function connectAllowed(state: ConnectorState): { allowed: true } | { allowed: false; reason: string } {
  if (state.onboardingStatus !== onboardingStatuses.onboarded) return { allowed: true };
  if (state.health === connectorHealths.reauthorizationRequired) return { allowed: true };
  return { allowed: false, reason: "The connector is already onboarded. Disconnect it before connecting another TeamViewer account." };
}

/** TeamViewer licence tiers by what the integration may do (docs/teamviewer.md, rate limits per licence). */
const licenseTiers = [
  { pattern: /\bfree\b/i, name: "Free", sufficient: false },
  { pattern: /\bbusiness\b/i, name: "Business", sufficient: false },
  { pattern: /\bpremium\b/i, name: "Premium", sufficient: true },
  { pattern: /\bcorporate\b/i, name: "Corporate", sufficient: true },
  { pattern: /\b(tensor|enterprise)\b/i, name: "Tensor", sufficient: true },
] as const;

export type LicenseFinding =
  { readonly sufficient: true; readonly name?: string } | { readonly sufficient: false; readonly name: string; readonly message: string };

/**
 * Whether the account's licence allows the integration. An unknown or missing licence
 * type is not held against the connector: TeamViewer decides at the first session, and a
 * false alarm would block a working tenant.
 */
export function assessLicense(licenseType: string | undefined): LicenseFinding {
  if (licenseType === undefined) return { sufficient: true };
  const tier = licenseTiers.find((t) => t.pattern.test(licenseType));
  if (!tier) return { sufficient: true };
  if (tier.sufficient) return { sufficient: true, name: tier.name };
  return {
    sufficient: false,
    name: tier.name,
    message: `TeamViewer ${tier.name} licence: integrations need Premium or Corporate. Upgrade the TeamViewer licence of the connected account.`,
  };
}
