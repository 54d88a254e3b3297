// The one error base class of the domain. HTTP statuses appear only in the HTTP layer
// (functions/http/problem.ts); here an error is a code, a safe detail and a cause.

export const errorCodes = {
  unauthenticated: "unauthenticated",
  forbidden: "forbidden",
  intuneLicenseRequired: "intuneLicenseRequired",
  notFound: "notFound",
  validationFailed: "validationFailed",
  invalidOAuthState: "invalidOAuthState",
  connectorNotOnboarded: "connectorNotOnboarded",
  conflict: "conflict",
  acknowledgementRequired: "acknowledgementRequired",
  deviceNotEligible: "deviceNotEligible",
  rateLimited: "rateLimited",
  payloadTooLarge: "payloadTooLarge",
  internal: "internal",
} as const;
export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes];

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Safe to show to the caller: never carries tokens, secrets, codes or states. */
  readonly detail: string;
  readonly errors?: readonly FieldError[];
  /** Extra problem members (e.g. `reason` for deviceNotEligible). */
  readonly extensions?: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail: string, options: { cause?: unknown; errors?: readonly FieldError[]; extensions?: Record<string, unknown> } = {}) {
    super(detail, { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.detail = detail;
    this.errors = options.errors;
    this.extensions = options.extensions;
  }
}

export const notFound = (what: string): DomainError => new DomainError(errorCodes.notFound, `${what} was not found.`);
export const forbidden = (detail: string): DomainError => new DomainError(errorCodes.forbidden, detail);
export const conflict = (detail: string): DomainError => new DomainError(errorCodes.conflict, detail);

/** Too many requests: `retryAfterSeconds` (whole seconds, at least 1) becomes the Retry-After header and a problem member. */
export const rateLimited = (detail: string, retryAfterSeconds: number): DomainError =>
  new DomainError(errorCodes.rateLimited, detail, { extensions: { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) } });
