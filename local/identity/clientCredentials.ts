// The identity emulator's app registrations and the OAuth 2.0 client-credentials grant:
// what a tenant's automation uses (through @azure/identity's ClientSecretCredential) to get
// an app-only token for the automation door. POST /apps registers an app (dev-only, like
// the dev POST /token); POST /{tenant}/oauth2/v2.0/token redeems its client id and secret.
// Refusals use the error codes and statuses Entra ID answers. Secrets are kept hashed, in
// memory only, and never logged.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { OAuthAnswer } from "./oauth.js";

export interface AppRegistration {
  readonly tenantId: string;
  readonly displayName: string;
  readonly roles: readonly string[];
}

export interface RegisteredApp {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly objectId: string;
}

/** What the server signs for an app-only token. */
export interface AppTokenToSign {
  readonly tenantId: string;
  readonly objectId: string;
  readonly clientId: string;
  readonly displayName: string;
  readonly roles: readonly string[];
  readonly expiresInSeconds: number;
}

interface StoredApp extends AppRegistration {
  readonly objectId: string;
  readonly secretHash: Buffer;
}

const id = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64");
export const appRegistrationSchema = z.strictObject({
  tenantId: id,
  displayName: z.string().trim().min(1).max(256),
  roles: z
    .array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "an app role value"))
    .max(50)
    .default([]),
});

const accessLifetimeSeconds = 3600;
const maxApps = 10_000;
const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();

function oauthError(status: number, error: string, code: string, description: string): OAuthAnswer {
  // Entra prefixes its descriptions with an AADSTS code and lists it in error_codes.
  return { kind: "json", status, body: { error, error_description: `AADSTS${code}: ${description}`, error_codes: [Number(code)] } };
}

/** client_secret_basic: `Authorization: Basic base64(urlencode(id):urlencode(secret))`. */
function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), clientSecret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

export class AppRegistrations {
  readonly #apps = new Map<string, StoredApp>();
  readonly #audience: string;
  readonly #log: (line: string) => void;

  constructor(audience: string, log: (line: string) => void) {
    this.#audience = audience;
    this.#log = log;
  }

  /** POST /apps: a new app with a new secret, shown once. */
  register(app: z.output<typeof appRegistrationSchema>): RegisteredApp | undefined {
    if (this.#apps.size >= maxApps) return undefined;
    const clientId = randomUUID();
    const objectId = randomUUID();
    // Entra's secrets are about 40 characters; this one has 256 bits either way.
    const clientSecret = randomBytes(32).toString("base64url");
    this.#apps.set(clientId, {
      tenantId: app.tenantId.toLowerCase(),
      displayName: app.displayName,
      roles: [...app.roles],
      objectId,
      secretHash: sha256(clientSecret),
    });
    this.#log(
      `registered app '${app.displayName}' (client ${clientId}, object ${objectId}) in tenant ${app.tenantId} with roles: ${app.roles.join(", ") || "none"}`,
    );
    return { clientId, clientSecret, objectId };
  }

  /** POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials. */
  async clientCredentials(
    tenant: string,
    form: URLSearchParams,
    authorization: string | undefined,
    sign: (t: AppTokenToSign) => Promise<string>,
  ): Promise<OAuthAnswer> {
    const basic = basicCredentials(authorization);
    const clientId = basic?.clientId ?? form.get("client_id") ?? "";
    const clientSecret = basic?.clientSecret ?? form.get("client_secret") ?? "";
    if (!clientId) return oauthError(400, "invalid_request", "900144", "The request body must contain the following parameter: 'client_id'.");
    const app = this.#apps.get(clientId.toLowerCase());
    // Entra: an app that is not registered in the tenant of the authority is unknown there.
    if (!app || app.tenantId !== tenant.toLowerCase()) {
      return oauthError(
        400,
        "unauthorized_client",
        "700016",
        `Application with identifier '${clientId.slice(0, 64)}' was not found in the directory '${tenant.slice(0, 64)}'.`,
      );
    }
    if (!clientSecret) {
      return oauthError(401, "invalid_client", "7000218", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    const presented = sha256(clientSecret);
    if (!timingSafeEqual(presented, app.secretHash)) {
      return oauthError(
        401,
        "invalid_client",
        "7000215",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
      );
    }
    const scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
    const wanted = `${this.#audience}/.default`;
    if (scopes.length !== 1 || scopes[0] !== wanted) {
      return oauthError(
        400,
        "invalid_scope",
        "1002012",
        `The provided value for scope ${(form.get("scope") ?? "").slice(0, 256)} is not valid. Client credential flows must ask for one resource's /.default scope: ${wanted}.`,
      );
    }
    const accessToken = await sign({
      tenantId: app.tenantId,
      objectId: app.objectId,
      clientId,
      displayName: app.displayName,
      roles: app.roles,
      expiresInSeconds: accessLifetimeSeconds,
    });
    this.#log(`issued an app-only token to '${app.displayName}' (client ${clientId}) in tenant ${app.tenantId}`);
    return {
      kind: "json",
      status: 200,
      body: { token_type: "Bearer", expires_in: accessLifetimeSeconds, ext_expires_in: accessLifetimeSeconds, access_token: accessToken },
    };
  }
}
