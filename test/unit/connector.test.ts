import { describe, expect, it } from "vitest";
import {
  assessLicense,
  connectAllowed,
  expireOnboarding,
  initialConnectorState,
  licenseAgreement,
  onboardingExpired,
  type ConnectorState,
} from "../../shared/domain/connector.js";
import { connectorPageUrl, connectorView } from "../../shared/app/connector/connectorService.js";
import { hashOAuthState, newOAuthState } from "../../shared/app/connector/oauthState.js";
import { parseToken, serializeToken, tokenSecretName } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { connectBody, connectorSchema, oauthCallbackQuery } from "../../shared/contracts/connector.js";
import { connectorAuthorizeDataSchema } from "../../shared/contracts/messages.js";

const now = new Date("2026-11-23T10:00:00.000Z");

const onboarding = (expiry: string | null): ConnectorState => ({
  ...initialConnectorState,
  onboardingStatus: "onboarding",
  onboardingRequestExpiryDateTime: expiry,
  pendingStateId: "state-hash-0123456789",
  licenseAgreement: { acceptedBy: { id: "u1", displayName: "Alex" }, acceptedAt: now.toISOString(), version: licenseAgreement.version },
});

const onboarded = (health: ConnectorState["health"]): ConnectorState => ({
  ...initialConnectorState,
  onboardingStatus: "onboarded",
  health,
  account: { userId: "u1234567", name: "Supporter", email: null, companyName: null },
  onboardedAt: now.toISOString(),
});

describe("assessLicense", () => {
  it.each([
    { licenseType: "Free", sufficient: false, name: "Free" },
    { licenseType: "TeamViewer Business", sufficient: false, name: "Business" },
    { licenseType: "business", sufficient: false, name: "Business" },
    { licenseType: "Premium", sufficient: true, name: "Premium" },
    { licenseType: "Corporate", sufficient: true, name: "Corporate" },
    { licenseType: "Tensor", sufficient: true, name: "Tensor" },
  ])("$licenseType → sufficient: $sufficient", ({ licenseType, sufficient, name }) => {
    // Act
    const finding = assessLicense(licenseType);
    // Assess
    expect(finding.sufficient).toBe(sufficient);
    expect(finding.name).toBe(name);
  });

  it("names the licence and what the integration needs when it is too small", () => {
    const finding = assessLicense("Business");
    expect(finding.sufficient).toBe(false);
    if (finding.sufficient) return;
    expect(finding.message).toBe(
      "TeamViewer Business licence: integrations need Premium or Corporate. Upgrade the TeamViewer licence of the connected account.",
    );
  });

  it("does not hold a missing or unknown licence type against the connector", () => {
    expect(assessLicense(undefined)).toEqual({ sufficient: true });
    expect(assessLicense("SomethingNew2031")).toEqual({ sufficient: true });
  });
});

describe("connectAllowed", () => {
  it.each([
    { name: "not onboarded", state: initialConnectorState, allowed: true },
    { name: "onboarding (restart)", state: onboarding(now.toISOString()), allowed: true },
    { name: "onboarded, reauthorization required", state: onboarded("reauthorizationRequired"), allowed: true },
    { name: "onboarded, healthy", state: onboarded("healthy"), allowed: false },
    { name: "onboarded, unreachable", state: onboarded("unreachable"), allowed: false },
  ])("$name → $allowed", ({ state, allowed }) => {
    expect(connectAllowed(state).allowed).toBe(allowed);
  });
});

describe("onboarding expiry", () => {
  it("an onboarding expires at its expiry time, not before", () => {
    const state = onboarding("2026-11-23T10:00:00.000Z");
    expect(onboardingExpired(state, new Date("2026-11-23T09:59:59.999Z"))).toBe(false);
    expect(onboardingExpired(state, now)).toBe(true);
  });

  it("only onboardings expire", () => {
    expect(onboardingExpired(onboarded("healthy"), now)).toBe(false);
    expect(onboardingExpired(initialConnectorState, now)).toBe(false);
  });

  it("an expired onboarding falls back to notOnboarded with an onboardingExpired error and no pending state", () => {
    // Act
    const next = expireOnboarding(onboarding("2026-11-23T09:50:00.000Z"), now);
    // Assess
    expect(next.onboardingStatus).toBe("notOnboarded");
    expect(next.pendingStateId).toBeNull();
    expect(next.onboardingRequestExpiryDateTime).toBeNull();
    expect(next.licenseAgreement).toBeNull();
    expect(next.lastError).toEqual({ code: "onboardingExpired", message: expect.stringContaining("10 minutes"), at: now.toISOString() });
  });
});

describe("connectorView", () => {
  it("shows a tenant without a stored connector as notOnboarded, with the consent text", () => {
    // Act
    const view = connectorView(undefined, now);
    // Assess
    expect(connectorSchema.parse(view)).toEqual(view);
    expect(view).toMatchObject({ id: "teamviewer", onboardingStatus: "notOnboarded", health: null, account: null, licenseAgreement: null, lastError: null });
    expect(view.consent).toEqual({ version: licenseAgreement.version, text: licenseAgreement.text });
    expect(view.consent.text).toMatch(/create, read and close TeamViewer remote assistance sessions/);
  });

  it("shows an onboarding with its expiry and the accepted agreement, and never the pending state id", () => {
    const view = connectorView(onboarding("2026-11-23T10:05:00.000Z"), now);
    expect(view.onboardingStatus).toBe("onboarding");
    expect(view.onboardingRequestExpiryDateTime).toBe("2026-11-23T10:05:00.000Z");
    expect(view.licenseAgreement?.version).toBe(licenseAgreement.version);
    expect(JSON.stringify(view)).not.toContain("state-hash-0123456789");
  });

  it("shows an onboarding past its expiry as notOnboarded before the timer has run", () => {
    const view = connectorView(onboarding("2026-11-23T09:59:00.000Z"), now);
    expect(view.onboardingStatus).toBe("notOnboarded");
    expect(view.onboardingRequestExpiryDateTime).toBeNull();
    expect(view.lastError?.code).toBe("onboardingExpired");
  });
});

describe("connectorPageUrl", () => {
  it.each([
    { portal: "http://127.0.0.1:7071/", result: "pending" as const, expected: "http://127.0.0.1:7071/#/connector?result=pending" },
    { portal: "https://portal.example/app", result: "denied" as const, expected: "https://portal.example/app#/connector?result=denied" },
    { portal: "https://portal.example/#/old", result: "failed" as const, expected: "https://portal.example/#/connector?result=failed" },
  ])("$portal + $result", ({ portal, result, expected }) => {
    expect(connectorPageUrl(portal, result)).toBe(expected);
  });
});

describe("OAuth state", () => {
  it("is 32 random bytes in base64url, stored as its SHA-256 (base64url), which the authorize message accepts", () => {
    // Act
    const a = newOAuthState();
    const b = newOAuthState();
    // Assess
    expect(a.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.state, "base64url")).toHaveLength(32);
    expect(a.state).not.toBe(b.state);
    expect(a.id).toBe(hashOAuthState(a.state));
    expect(a.id).not.toBe(a.state);
    expect(connectorAuthorizeDataSchema.safeParse({ stateId: a.id, code: "c" }).success).toBe(true);
  });

  it("hashes like SHA-256", () => {
    // The SHA-256 of "abc", base64url.
    expect(hashOAuthState("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });
});

describe("stored token format", () => {
  it("round-trips through the Key Vault value, with the connector generation it belongs to", () => {
    const token = { accessToken: "at", refreshToken: "rt", expiresAt: new Date("2026-11-24T10:00:00.000Z"), generation: 7 };
    const value = serializeToken(token);
    expect(JSON.parse(value)).toEqual({ accessToken: "at", refreshToken: "rt", expiresAt: "2026-11-24T10:00:00.000Z", generation: 7 });
    expect(parseToken(value)).toEqual(token);
  });

  it("reads a value stored before generations existed as generation 0", () => {
    expect(parseToken('{"accessToken":"a","refreshToken":"r","expiresAt":"2026-11-24T10:00:00Z"}')?.generation).toBe(0);
  });

  it.each([
    "not json",
    "{}",
    '{"accessToken":"a","refreshToken":"","expiresAt":"2026-11-24T10:00:00Z"}',
    '{"accessToken":"a","refreshToken":"r","expiresAt":"tomorrow"}',
    '{"accessToken":"a","refreshToken":"r","expiresAt":"2026-11-24T10:00:00Z","generation":-1}',
  ])("rejects %s", (value) => {
    expect(parseToken(value)).toBeUndefined();
  });

  it("names the secret per tenant", () => {
    expect(tokenSecretName("0f8fad5b-d9cb-469f-a165-70867728950e")).toBe("teamviewer-token-0f8fad5b-d9cb-469f-a165-70867728950e");
  });
});

describe("HTTP contracts", () => {
  it("connect needs the license agreement accepted, and nothing else", () => {
    expect(connectBody.safeParse({ acceptLicenseAgreement: true }).success).toBe(true);
    expect(connectBody.safeParse({ acceptLicenseAgreement: false }).success).toBe(false);
    expect(connectBody.safeParse({}).success).toBe(false);
    expect(connectBody.safeParse({ acceptLicenseAgreement: true, extra: 1 }).success).toBe(false);
  });

  it("the callback takes a code or an error with the state, never both or neither", () => {
    expect(oauthCallbackQuery.safeParse({ code: "c", state: "s" }).success).toBe(true);
    expect(oauthCallbackQuery.safeParse({ error: "access_denied", state: "s" }).success).toBe(true);
    expect(oauthCallbackQuery.safeParse({ code: "c", error: "access_denied", state: "s" }).success).toBe(false);
    expect(oauthCallbackQuery.safeParse({ state: "s" }).success).toBe(false);
    expect(oauthCallbackQuery.safeParse({ code: "c" }).success).toBe(false);
  });

  it("a rejected callback query is described without echoing its values", () => {
    // Prepare
    const secretish = "x".repeat(600);
    // Act
    const r = oauthCallbackQuery.safeParse({ code: "c", state: secretish });
    // Assess
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues.map((i) => i.message))).not.toContain(secretish);
  });
});
