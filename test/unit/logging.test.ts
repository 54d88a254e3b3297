import { describe, expect, it } from "vitest";
import { createLogger, redact } from "../../shared/app/logging.js";

describe("redact", () => {
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ0MSJ9.c2lnbmF0dXJlLXZhbHVl";
  it.each([
    ["Authorization: Bearer abc.def-ghi", "abc.def-ghi"],
    [`token ${jwt} seen`, jwt],
    ["GET /api/connector/oauth/callback?code=SECRETCODE123&state=STATEVALUE456", "SECRETCODE123"],
    ["GET /api/connector/oauth/callback?code=SECRETCODE123&state=STATEVALUE456", "STATEVALUE456"],
    ['{"access_token":"AT-123456","refresh_token":"RT-654321"}', "AT-123456"],
    ['{"access_token":"AT-123456","refresh_token":"RT-654321"}', "RT-654321"],
    ["grant_type=refresh_token&refresh_token=RT-777&client_secret=CS-888", "RT-777"],
    ["grant_type=refresh_token&refresh_token=RT-777&client_secret=CS-888", "CS-888"],
    ['{"accessToken":"x-AT","refreshToken":"x-RT","expiresAt":"2026"}', "x-AT"],
    ['{"code": "the-code", "other": 1}', "the-code"],
    ["DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=S3CR3T-ACCOUNT-KEY==;EndpointSuffix=core.windows.net", "S3CR3T-ACCOUNT-KEY=="],
    ["Authorization: Basic bG9jYWwtY2xpZW50LWlkOmxvY2FsLWNsaWVudC1zZWNyZXQ=", "bG9jYWwtY2xpZW50LWlkOmxvY2FsLWNsaWVudC1zZWNyZXQ="],
    ['{"authorization":"Basic bG9jYWwtY2xpZW50LWlkOmxvY2FsLWNsaWVudC1zZWNyZXQ="}', "bG9jYWwtY2xpZW50LWlkOmxvY2FsLWNsaWVudC1zZWNyZXQ="],
  ])("removes the secret from %s", (input, secret) => {
    const out = redact(input);
    expect(out).not.toContain(secret);
    expect(out).toContain("redacted");
  });

  it("keeps ordinary text", () => {
    expect(redact("session 01H created for device DESKTOP-1")).toBe("session 01H created for device DESKTOP-1");
    expect(redact("TeamViewer Basic licences cannot create sessions")).toBe("TeamViewer Basic licences cannot create sessions");
  });

  it("applies to every logger line, props and errors included", () => {
    const lines: string[] = [];
    const log = createLogger((_, line) => lines.push(line), { correlationId: "c-1" });
    log.info("calling", { url: "https://x/cb?code=C0DE-1&state=ST4TE-2" });
    log.error("failed", new Error("Bearer T0KEN-3 rejected"));
    expect(lines.join("\n")).not.toMatch(/C0DE-1|ST4TE-2|T0KEN-3/);
    expect(lines[0]).toContain("c-1");
  });

  it("redacts secrets in a property that holds JSON or a form, which the line's own JSON escapes", () => {
    const lines: string[] = [];
    const log = createLogger((_, line) => lines.push(line));
    log.warn("token exchange failed", { error: 'TeamViewer answered {"access_token":"AT-IN-JSON-1","refresh_token":"RT-IN-JSON-2"}' });
    log.warn("token exchange failed", { body: "code=CODE-IN-FORM-3&grant_type=authorization_code" });
    expect(lines.join("\n")).not.toMatch(/AT-IN-JSON-1|RT-IN-JSON-2|CODE-IN-FORM-3/);
  });
});
