// HTTP contracts of sessions: the session request, the admin session API and report, and
// the end user's (Company Portal) requests. The OpenAPI document is generated from these.
import { z } from "zod";
import { sessionStatuses } from "../domain/sessionState.js";
import { continuationTokenSchema, idSchema, isoDateTimeSchema, listOf, multiLineText, singleLineText, topSchema } from "./common.js";

/**
 * Path ids are checked for shape only (like every id in this API); an id that is not a
 * ULID names no session, which the use case answers with 404 after checking permissions.
 */
export const sessionIdParams = z.strictObject({
  sessionId: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64")
    .transform((v) => v.toUpperCase()),
});
export const deviceSessionParams = z.strictObject({ deviceId: idSchema });

/** A help-desk ticket reference: what the session is for. */
export const ticketIdSchema = singleLineText(
  z
    .string()
    .trim()
    .min(1, "not empty")
    .max(64, "at most 64 characters")
    .regex(/^[\x20-\x7e\u00a0-\uffff]+$/, "printable characters only"),
);

/** Text a person writes with a request or a decision (a description, a comment), shown to others; may span lines. */
const noteSchema = multiLineText(z.string().trim().max(500, "at most 500 characters"));

/** Warnings a requester may acknowledge up front (answered by 409 acknowledgementRequired otherwise). */
export const acknowledgeableWarnings = ["deviceNotCompliant"] as const;
export const acknowledgeWarningsSchema = z
  .array(z.enum(acknowledgeableWarnings))
  .max(acknowledgeableWarnings.length * 2)
  .transform((w) => [...new Set(w)]);

export const sessionRequestBody = z.strictObject({
  description: noteSchema.optional(),
  ticketId: ticketIdSchema.optional(),
  acknowledgeWarnings: acknowledgeWarningsSchema.optional(),
});
export type SessionRequestBody = z.output<typeof sessionRequestBody>;

/**
 * The optional Idempotency-Key header: printable ASCII, at most 255 characters (the
 * IETF draft's and most APIs' limit). Scoped to the caller, kept 24 hours.
 */
export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255, "at most 255 characters")
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

export const sessionListQuery = z.strictObject({
  deviceId: idSchema.optional(),
  status: z.enum(sessionStatuses).optional(),
  top: topSchema(100, 25),
  continuationToken: continuationTokenSchema.optional(),
});

const actorSchema = z.object({ id: z.string(), displayName: z.string(), type: z.enum(["user", "automation", "system"]) });

export const sessionSchema = z.object({
  id: z.string(),
  deviceId: z.string(),
  device: z.object({
    deviceName: z.string(),
    operatingSystem: z.string(),
    osVersion: z.string(),
    userDisplayName: z.string().nullable(),
    userPrincipalName: z.string().nullable(),
  }),
  requestedBy: z.object({ id: z.string(), displayName: z.string(), type: z.enum(["user", "automation"]) }),
  requestedAt: z.string(),
  description: z.string().nullable(),
  /** The help-desk ticket the requester named; null when none was. */
  ticketId: z.string().nullable(),
  /** Warnings the requester acknowledged to request it (e.g. `deviceNotCompliant`). */
  acknowledgedWarnings: z.array(z.string()),
  /** Whether the request needed a second person's approval, and their decision once made. */
  approval: z.object({
    required: z.boolean(),
    decision: z.object({ decision: z.enum(["approved", "denied"]), by: actorSchema, at: z.string(), comment: z.string().nullable() }).nullable(),
  }),
  status: z.enum(sessionStatuses),
  history: z.array(z.object({ status: z.enum(sessionStatuses), at: z.string(), detail: z.string().optional() })),
  teamViewer: z.object({ code: z.string(), supporterLink: z.string(), validUntil: z.string() }).nullable(),
  /** Only when the end user cannot be notified: pass it on to them another way. */
  endUserLink: z.string().optional(),
  endUserNotification: z.object({
    channel: z.enum(["companyPortal", "none"]),
    /** `seen`: the Company Portal showed the request to the end user (not delivered ≠ ignored). */
    status: z.enum(["pending", "sent", "seen", "notSupported", "failed"]),
    sentAt: z.string().optional(),
    seenAt: z.string().optional(),
  }),
  endUserResponse: z.object({ response: z.enum(["accepted", "declined"]), at: z.string() }).nullable(),
  closedAt: z.string().nullable(),
  closedBy: actorSchema.nullable(),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  warnings: z.array(z.string()),
  /**
   * While a requested session waits for the tenant's TeamViewer quota (its history has a
   * `waitingForTeamViewerQuota` entry): when it is expected to go on. Null otherwise.
   */
  waitingForTeamViewerQuotaUntil: z.string().nullable(),
  /**
   * Supporters' connections as TeamViewer's connection report tells them (read every few
   * minutes, so they appear a little after the fact), oldest first. `endedAt` and
   * `durationSeconds` are null while a connection is open.
   */
  connections: z.array(
    z.object({
      id: z.string(),
      supporter: z.object({ userId: z.string(), name: z.string() }),
      startedAt: z.string(),
      endedAt: z.string().nullable(),
      durationSeconds: z.number().int().nullable(),
    }),
  ),
  /** The end user accepted, and TeamViewer has reported no connection to the session. */
  neverConnected: z.boolean(),
});
export type SessionResource = z.output<typeof sessionSchema>;
export const sessionListSchema = listOf(sessionSchema);

const maxReportDays = 400;
export const sessionReportQuery = z
  .strictObject({
    from: isoDateTimeSchema.optional(),
    to: isoDateTimeSchema.optional(),
  })
  // `to` defaults to now: a `from` in the future alone is as backwards as an explicit pair.
  .refine((q) => !q.from || Date.parse(q.from) < (q.to ? Date.parse(q.to) : Date.now()), { message: "from must be before to (default now)", path: ["from"] })
  // A report reads every session in the range: the range bounds the work.
  .refine((q) => !q.from || Date.parse(q.to ?? new Date().toISOString()) - Date.parse(q.from) <= maxReportDays * 86_400_000, {
    message: `the range may span at most ${maxReportDays} days`,
    path: ["from"],
  });

export const sessionReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  total: z.number().int(),
  byStatus: z.record(z.enum(sessionStatuses), z.number().int()),
  byPlatform: z.record(z.string(), z.number().int()),
  byRequester: z.array(z.object({ id: z.string(), displayName: z.string(), type: z.enum(["user", "automation"]), count: z.number().int() })),
  accepted: z.number().int(),
  /** Median time from request to the end user's acceptance, in seconds; null when nobody accepted. */
  medianTimeToAcceptSeconds: z.number().nullable(),
  /** Sessions with at least one supporter connection reported by TeamViewer. */
  connectedSessions: z.number().int(),
  /** Minutes connected, summed over the sessions' ended connections. */
  totalConnectionMinutes: z.number(),
  /** Median of the connected sessions' minutes connected; null when none connected. */
  medianConnectionMinutes: z.number().nullable(),
  /** Sessions the end user accepted to which no connection was reported. */
  sessionsNeverConnected: z.number().int(),
});
export type SessionReport = z.output<typeof sessionReportSchema>;

export const endUserRequestSchema = z.object({
  id: z.string(),
  deviceId: z.string(),
  deviceName: z.string(),
  requestedBy: z.object({ displayName: z.string() }),
  requestedAt: z.string(),
  description: z.string().nullable(),
  status: z.enum(sessionStatuses),
});
export type EndUserRequest = z.output<typeof endUserRequestSchema>;
export const endUserRequestListSchema = z.object({ value: z.array(endUserRequestSchema) });

export const approvalDecisionBody = z.strictObject({
  comment: noteSchema.optional(),
});

export const acceptResponseSchema = z.object({ endUserLink: z.string() });
