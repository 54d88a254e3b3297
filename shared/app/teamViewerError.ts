// The one error the TeamViewer port throws (the client adapter in shared/adapters/teamviewer
// raises it): a code the queue workers branch on
// (retry, refresh, reauthorize, fail the session), never a raw HTTP status or fetch error.

export const teamViewerErrorCodes = {
  /** 401 token_expired: refresh once and retry. */
  tokenExpired: "tokenExpired",
  /** Any other 401 (unknown, revoked or malformed token): reauthorization needed. */
  invalidToken: "invalidToken",
  /** 403 rate_limit_reached / blocked, or 429. */
  throttled: "throttled",
  /** 400 invalid_grant on the token endpoint: the code or refresh token is spent or wrong. */
  invalidGrant: "invalidGrant",
  /** invalid_client: the app registration's id or secret is wrong. */
  invalidClient: "invalidClient",
  /** Any other 4xx, or a request this client refused to send. */
  badRequest: "badRequest",
  notFound: "notFound",
  serverError: "serverError",
  /** No answer within timeoutMs (or a 408 from TeamViewer). */
  timeout: "timeout",
  /** Connection refused, reset, DNS failure. */
  unreachable: "unreachable",
  /** TeamViewer answered, but not with what the API promises. */
  invalidResponse: "invalidResponse",
} as const;
export type TeamViewerErrorCode = (typeof teamViewerErrorCodes)[keyof typeof teamViewerErrorCodes];

const transientCodes: ReadonlySet<TeamViewerErrorCode> = new Set(["throttled", "serverError", "timeout", "unreachable"]);

interface TeamViewerErrorOptions {
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly tvError?: string;
  readonly cause?: unknown;
}

/**
 * Messages and causes never carry tokens, codes or the client secret: the client builds
 * them from the method, path template, status and TeamViewer's checked error fields.
 */
export class TeamViewerError extends Error {
  readonly code: TeamViewerErrorCode;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** Worth retrying later (Service Bus redelivery); the rest are permanent or need a new token. */
  readonly transient: boolean;
  /** TeamViewer's `error` value, e.g. "token_expired". */
  readonly tvError?: string;

  constructor(code: TeamViewerErrorCode, message: string, options: TeamViewerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TeamViewerError";
    this.code = code;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.transient = transientCodes.has(code);
    this.tvError = options.tvError;
  }
}

/** The one test for a TeamViewer failure. */
export const isTeamViewerError = (e: unknown): e is TeamViewerError => e instanceof TeamViewerError;

// Bad authorization: TeamViewer refuses what this project authorizes with, and repeating
// the same call will not change that. Nested by what was refused, narrowest first:
// the access token (a 401 on an API call: renewing the token may help), any of the
// tenant's tokens (also a refresh token or code TeamViewer no longer accepts: an admin
// must connect again), or also the app registration itself (invalid_client: an operator
// must fix the client id or secret).
const accessTokenRefusals: ReadonlySet<TeamViewerErrorCode> = new Set(["tokenExpired", "invalidToken"]);
const tokenRefusals: ReadonlySet<TeamViewerErrorCode> = new Set([...accessTokenRefusals, "invalidGrant"]);
const badAuthorizations: ReadonlySet<TeamViewerErrorCode> = new Set([...tokenRefusals, "invalidClient"]);

/** TeamViewer refused the access token (expired, revoked, replaced): renew it and retry once. */
export const isAccessTokenRefused = (e: unknown): e is TeamViewerError => isTeamViewerError(e) && accessTokenRefusals.has(e.code);
/** TeamViewer no longer accepts the tenant's token, access or refresh: there is nothing left to use or revoke. */
export const isTokenRefused = (e: unknown): e is TeamViewerError => isTeamViewerError(e) && tokenRefusals.has(e.code);
/** Any bad authorization, the app registration's included. */
export const isBadAuthorization = (e: unknown): e is TeamViewerError => isTeamViewerError(e) && badAuthorizations.has(e.code);
