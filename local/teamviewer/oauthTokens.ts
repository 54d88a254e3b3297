// The TeamViewer fake's token side of OAuth: POST /api/v1/oauth2/token (authorization code
// and refresh token grants, rotating refresh tokens), POST /api/v1/oauth2/revoke, and the
// bearer check every other Web API call makes.
import type { ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { send, sendJson, sendOAuthError } from "../http.js";
import type { FakeConditions } from "./conditions.js";
import type { GrantResult, TeamViewerFakeState } from "./fakeState.js";
import { bearerToken, type Context } from "./fakeRequest.js";

export class OAuthTokens {
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #state: TeamViewerFakeState;
  readonly #conditions: FakeConditions;

  constructor(init: { clientId: string; clientSecret: string; state: TeamViewerFakeState; conditions: FakeConditions }) {
    this.#clientId = init.clientId;
    this.#clientSecret = init.clientSecret;
    this.#state = init.state;
    this.#conditions = init.conditions;
  }

  token(ctx: Context, res: ServerResponse): void {
    if (!ctx.contentType.startsWith("application/x-www-form-urlencoded")) {
      return sendOAuthError(res, 400, "invalid_request", "Send the token request as application/x-www-form-urlencoded.");
    }
    const form = new URLSearchParams(ctx.body);
    const clientId = form.get("client_id");
    const clientSecret = form.get("client_secret");
    if (clientId === null || clientId !== this.#clientId) {
      return sendOAuthError(res, 400, "invalid_client", "Unknown client_id.");
    }
    if (clientSecret === null || !sameSecret(clientSecret, this.#clientSecret)) {
      return sendOAuthError(res, 401, "invalid_client", "Client authentication failed.", { "www-authenticate": 'Basic realm="oauth2"' });
    }
    const expiresIn = this.#conditions.variants.expiresIn;
    let result: GrantResult;
    switch (form.get("grant_type")) {
      case "authorization_code": {
        const code = form.get("code");
        const redirectUri = form.get("redirect_uri");
        if (!code || !redirectUri) return sendOAuthError(res, 400, "invalid_request", "code and redirect_uri are required.");
        result = this.#state.exchangeCode(code, clientId, redirectUri, expiresIn);
        break;
      }
      case "refresh_token": {
        const refreshToken = form.get("refresh_token");
        if (!refreshToken) return sendOAuthError(res, 400, "invalid_request", "refresh_token is required.");
        result = this.#state.refresh(refreshToken, clientId, expiresIn);
        break;
      }
      case null:
        return sendOAuthError(res, 400, "invalid_request", "grant_type is required.");
      default:
        return sendOAuthError(res, 400, "unsupported_grant_type", "Use authorization_code or refresh_token.");
    }
    if (!result.ok) return sendOAuthError(res, 400, result.error, result.description, { "cache-control": "no-store" });
    sendJson(res, 200, { ...result.tokens }, { "cache-control": "no-store", pragma: "no-cache" });
  }

  revoke(ctx: Context, res: ServerResponse): void {
    const tokenId = this.authenticate(ctx, res);
    if (tokenId === undefined) return;
    this.#state.revoke(tokenId);
    send(res, 204);
  }

  /**
   * The bearer check every API call but ping and the token endpoint makes. Answers 401
   * itself and returns undefined when the token does not do.
   */
  authenticate(ctx: Context, res: ServerResponse): string | undefined {
    const token = bearerToken(ctx.authorization);
    if (token === undefined) {
      send(res, 401, undefined, { "www-authenticate": "Bearer" });
      return undefined;
    }
    const check = this.#state.checkBearer(token);
    ctx.tokenId = check.tokenId;
    ctx.grantId = check.grantId;
    if (check.kind === "valid") return check.tokenId;
    if (check.kind === "expired") {
      sendJson(
        res,
        401,
        { error: "token_expired", error_description: "The access token has expired.", error_code: 1 },
        { "www-authenticate": 'Bearer error="invalid_token", error_description="The access token expired"' },
      );
    } else {
      sendOAuthError(res, 401, "invalid_token", "The access token is invalid or has been revoked.", { "www-authenticate": 'Bearer error="invalid_token"' });
    }
    return undefined;
  }

  /** GET /api/v1/ping: the token is optional here; the answer says whether it is any good. */
  ping(ctx: Context, res: ServerResponse): void {
    const token = bearerToken(ctx.authorization);
    const check = token === undefined ? undefined : this.#state.checkBearer(token);
    ctx.tokenId = check?.tokenId;
    ctx.grantId = check?.grantId;
    sendJson(res, 200, { token_valid: check?.kind === "valid" });
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
