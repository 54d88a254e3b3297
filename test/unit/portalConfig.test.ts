// The portal's config.json check (portal/src/config.ts), which both the browser and
// `portal/build.ts --config` run: every problem named.
import { describe, expect, it } from "vitest";
import { readPortalConfig } from "../../portal/src/config.js";

const entra = {
  apiBaseUrl: "https://rac-func.azurewebsites.net/api",
  auth: {
    kind: "entra",
    clientId: "11111111-1111-1111-1111-111111111111",
    authority: "https://login.microsoftonline.com/organizations",
    apiScope: "api://x/access_as_user",
  },
};
const local = {
  apiBaseUrl: "/api",
  auth: {
    kind: "local",
    identityUrl: "http://127.0.0.1:7074",
    users: [{ key: "admin", label: "Admin", claims: { tid: "t", oid: "o", name: "A", preferred_username: "a@x", roles: [], groups: [] } }],
  },
};
const problemsOf = (value: unknown): string[] => {
  const read = readPortalConfig(value);
  return "problems" in read ? read.problems : [];
};

describe("portal config.json", () => {
  it.each([
    ["an Entra ID configuration", entra],
    [
      "an Entra ID configuration with known authorities and a redirect URI",
      { ...entra, auth: { ...entra.auth, knownAuthorities: ["127.0.0.1:7075"], redirectUri: "http://127.0.0.1:7071/entra/" } },
    ],
    ["the local configuration", local],
    ["an Entra ID configuration with an API on this machine over http", { ...entra, apiBaseUrl: "http://127.0.0.1:7071/api" }],
    ["an API scope named by the API's app id", { ...entra, auth: { ...entra.auth, apiScope: "11111111-2222-3333-4444-555555555555/access_as_user" } }],
    ["an API's default scope", { ...entra, auth: { ...entra.auth, apiScope: "api://x/.default" } }],
  ])("accepts %s as it is", (_name, value) => {
    // Act
    const read = readPortalConfig(value);
    // Assess
    expect(read).toEqual({ config: value });
  });

  it.each([
    ["not an object", [], ["config.json must be a JSON object with apiBaseUrl and auth"]],
    ["no auth", { apiBaseUrl: "/api" }, ['auth must be an object with kind "local" or "entra"']],
    ["an unknown kind", { apiBaseUrl: "/api", auth: { kind: "okta" } }, ['auth.kind must be "local" or "entra", not "okta"']],
    [
      "an http authority",
      { ...entra, auth: { ...entra.auth, authority: "http://login.example/common" } },
      ["auth.authority must be an https address (MSAL.js accepts no other), not http://login.example/common"],
    ],
    [
      "no client id and no scope",
      { ...entra, auth: { kind: "entra", authority: entra.auth.authority } },
      ["auth.clientId must be a non-empty string", "auth.apiScope must be a non-empty string"],
    ],
    ["a relative-looking API base", { ...entra, apiBaseUrl: "api" }, ["apiBaseUrl must be an absolute address, not api"]],
    [
      "known authorities that are not host names",
      { ...entra, auth: { ...entra.auth, knownAuthorities: "login.example" } },
      ["auth.knownAuthorities must be a list of host names"],
    ],
    [
      "an Entra ID configuration whose API is plain http (the access token would cross the network in the clear)",
      { ...entra, apiBaseUrl: "http://rac-func.azurewebsites.net/api" },
      ["apiBaseUrl must be an https address: the portal sends it Entra ID access tokens, not http://rac-func.azurewebsites.net/api"],
    ],
    ["a local configuration without users", { ...local, auth: { ...local.auth, users: [] } }, ["auth.users must list the demo users"]],
    ...["User.Read", "openid", "api://x", "api://x/", "access_as_user"].map((apiScope): [string, unknown, string[]] => [
      `an API scope that names no scope of an API (${apiScope})`,
      { ...entra, auth: { ...entra.auth, apiScope } },
      [`auth.apiScope must name the API's delegated scope, e.g. api://<API app id>/access_as_user, not ${apiScope}`],
    ]),
  ])("names what is wrong with %s", (_name, value, expected) => {
    // Act
    const problems = problemsOf(value);
    // Assess
    expect(problems).toEqual(expected);
  });
});
