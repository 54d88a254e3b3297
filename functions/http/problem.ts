// The one mapper from domain errors to application/problem+json responses.
import type { HttpResponseInit } from "@azure/functions";
import { DomainError, errorCodes, type ErrorCode } from "../../shared/domain/errors.js";

const statusOf: Record<ErrorCode, number> = {
  unauthenticated: 401,
  forbidden: 403,
  intuneLicenseRequired: 403,
  notFound: 404,
  validationFailed: 400,
  invalidOAuthState: 400,
  connectorNotOnboarded: 409,
  conflict: 409,
  acknowledgementRequired: 409,
  deviceNotEligible: 422,
  rateLimited: 429,
  payloadTooLarge: 413,
  internal: 500,
};

const titleOf: Record<ErrorCode, string> = {
  unauthenticated: "Authentication required",
  forbidden: "Forbidden",
  intuneLicenseRequired: "Intune license required",
  notFound: "Not found",
  validationFailed: "Validation failed",
  invalidOAuthState: "Invalid OAuth state",
  connectorNotOnboarded: "Connector not onboarded",
  conflict: "Conflict",
  acknowledgementRequired: "Acknowledgement required",
  deviceNotEligible: "Device not eligible",
  rateLimited: "Too many requests",
  payloadTooLarge: "Payload too large",
  internal: "Internal error",
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: { path: string; message: string }[];
  correlationId: string;
  [extension: string]: unknown;
}

export function problemOf(error: DomainError, correlationId: string): Problem {
  return {
    ...error.extensions,
    type: `https://remote-assistance-connector/problems/${error.code}`,
    title: titleOf[error.code],
    status: statusOf[error.code],
    code: error.code,
    detail: error.detail,
    ...(error.errors ? { errors: [...error.errors] } : {}),
    correlationId,
  };
}

/** On every API answer: JSON is never to be sniffed into something a browser would run. */
export const apiSecurityHeaders = { "x-content-type-options": "nosniff" } as const;

/**
 * The Bearer challenge of a 401 (RFC 6750, section 3): `error="invalid_token"` when the request
 * presented a bearer token and it was refused; no error when it presented none (no header, or
 * another scheme), so a client knows to sign in rather than to renew. Never any token content.
 */
function bearerChallenge(tokenPresented: boolean): string {
  return `Bearer realm="remote-assistance-connector"${tokenPresented ? ', error="invalid_token"' : ""}`;
}

export function problemResponse(error: DomainError, correlationId: string, request: { readonly tokenPresented?: boolean } = {}): HttpResponseInit {
  const problem = problemOf(error, correlationId);
  const headers: Record<string, string> = { "content-type": "application/problem+json", "x-correlation-id": correlationId, ...apiSecurityHeaders };
  if (error.code === errorCodes.unauthenticated) headers["www-authenticate"] = bearerChallenge(request.tokenPresented === true);
  const retryAfter = error.extensions?.retryAfterSeconds;
  if (error.code === errorCodes.rateLimited && typeof retryAfter === "number") headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfter)));
  return { status: problem.status, body: JSON.stringify(problem), headers };
}

export const internalError = (): DomainError =>
  new DomainError(errorCodes.internal, "An unexpected error occurred. Quote the correlation id when you report it.");
