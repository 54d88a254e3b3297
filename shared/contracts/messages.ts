// The queue message envelope (docs/messages.md), the data schema of every message type, and the
// one parser every queue function uses: envelope first (strict), then data by type.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { FieldError } from "../domain/errors.js";
import { queueNames } from "../queueDefinitions.js";
import {
  deviceRemovedDataSchema,
  deviceUpsertedDataSchema,
  displayNameSchema,
  entityIdSchema,
  foldedIdSchema,
  principalRefSchema,
  remoteAssistanceRequestedDataSchema,
  userUpsertedDataSchema,
} from "./automationEvents.js";

export const messageTypes = {
  connectorAuthorize: "connector.authorize",
  connectorDisconnect: "connector.disconnect",
  sessionCreate: "session.create",
  sessionClose: "session.close",
  notificationSend: "notification.send",
  deviceUpserted: "device.upserted",
  deviceRemoved: "device.removed",
  userUpserted: "user.upserted",
  remoteAssistanceRequested: "remoteAssistance.requested",
  auditDeliver: "audit.deliver",
  deviceReindex: "device.reindex",
} as const;
export type MessageType = (typeof messageTypes)[keyof typeof messageTypes];

export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** The queue each message type travels on; a message found on another queue is rejected. */
export const messageQueue = {
  "connector.authorize": queueNames.connectorCommands,
  "connector.disconnect": queueNames.connectorCommands,
  "session.create": queueNames.sessionCommands,
  "session.close": queueNames.sessionCommands,
  "notification.send": queueNames.deviceNotifications,
  "device.upserted": queueNames.automationEvents,
  "device.removed": queueNames.automationEvents,
  "user.upserted": queueNames.automationEvents,
  "remoteAssistance.requested": queueNames.automationEvents,
  "audit.deliver": queueNames.auditExport,
  "device.reindex": queueNames.deviceIndex,
} as const satisfies Record<MessageType, QueueName>;

// --- command data: produced only by this service, so strict ---

/**
 * The OAuth authorization code travels in the message. It is single use, lives 10
 * minutes, and is worthless without the client secret, which only Key Vault holds; storing
 * it elsewhere and passing a pointer would add a second secret store for no real gain.
 * The field is named `code` so the logger's redaction rule hides it, and it is listed in
 * `secretDataFields` for `messageForLog`. `stateId` is the oauthStates RowKey (the
 * state's SHA-256), never the state itself, which is a credential.
 */
export const connectorAuthorizeDataSchema = z.strictObject({
  stateId: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, "expected the hashed OAuth state (16–128 URL-safe characters)"),
  code: z.string().min(1).max(2048),
});

const strictPrincipalRefSchema = z.strictObject(principalRefSchema.shape);

const countSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * `generation` is the connector's generation when the disconnect was requested: the
 * worker undoes only the connection (or onboarding) that existed then, never one a connect
 * began after it. Absent on messages queued before it existed: those disconnect whatever
 * the connector is at.
 * One message closes at most a page of the tenant's open sessions; the worker hands the
 * rest on to a follow-up of the same type and generation, which carries where to go on
 * from (`sessionsAfter`, a place in the open sessions) and how many the messages before
 * it closed (`sessionsClosed`). A follow-up sent once the connector was disconnected
 * carries the generation it was left at (`disconnectedGeneration`): it only closes the
 * requests admitted while the disconnect ran.
 */
export const connectorDisconnectDataSchema = z.strictObject({
  requestedBy: strictPrincipalRefSchema,
  generation: countSchema.optional(),
  sessionsAfter: z
    .string()
    .regex(/^[A-Za-z0-9|_-]{1,128}$/, "expected a place in the open sessions (1–128 letters, digits or | _ -)")
    .optional(),
  sessionsClosed: countSchema.optional(),
  disconnectedGeneration: countSchema.optional(),
});

export const sessionCreateDataSchema = z.strictObject({ sessionId: entityIdSchema });

export const sessionCloseReasons = {
  admin: "admin",
  expired: "expired",
  declined: "declined",
  disconnected: "disconnected",
  /** The device was removed from management (device.removed). */
  deviceRemoved: "deviceRemoved",
  /** A failed session whose TeamViewer session may exist (an attempt timed out): close it if so. */
  failed: "failed",
} as const;
export type SessionCloseReason = (typeof sessionCloseReasons)[keyof typeof sessionCloseReasons];

export const sessionCloseDataSchema = z.strictObject({
  sessionId: entityIdSchema,
  reason: z.enum(sessionCloseReasons),
  closedBy: z.strictObject({ id: foldedIdSchema, displayName: displayNameSchema, type: z.enum(["user", "automation", "system"]) }).optional(),
});
export type SessionCloseData = z.output<typeof sessionCloseDataSchema>;

export const notificationSendDataSchema = z.strictObject({ sessionId: entityIdSchema, userId: foldedIdSchema });

/** Deliver event `sequence` of the tenant's audit stream to one push subscription; retries carry their count and first failure. */
export const auditDeliverDataSchema = z.strictObject({
  subscriptionId: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/),
  generation: z.uuid(),
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  attempt: z.number().int().min(0).max(100_000),
  firstFailedAt: z.iso.datetime({ offset: true }).optional(),
  /** On a retry: the subscription's secret version the failures so far were for (a PUT since makes them another receiver's). */
  secretVersion: z.uuid().optional(),
  /** Times this attempt was held back (its tenant had as many deliveries under way as it may) and sent again for later. */
  deferrals: z.number().int().min(1).max(100_000).optional(),
  /** When this attempt was first held back: held back for the give-up age, it is given up. */
  heldSince: z.iso.datetime({ offset: true }).optional(),
});
export type AuditDeliverData = z.output<typeof auditDeliverDataSchema>;

/** Move the tenant's re-index job (shared/app/devices/deviceReindex.ts) on; its state is the job row, not the message. */
export const deviceReindexDataSchema = z.strictObject({ version: z.number().int().min(1).max(1_000_000) });

export type { DeviceRemovedData, DeviceUpsertedData, RemoteAssistanceRequestedData, UserUpsertedData } from "./automationEvents.js";

/** The data schema of each message type; the second step of `parseMessage`. */
export const messageDataSchemas = {
  "connector.authorize": connectorAuthorizeDataSchema,
  "connector.disconnect": connectorDisconnectDataSchema,
  "session.create": sessionCreateDataSchema,
  "session.close": sessionCloseDataSchema,
  "notification.send": notificationSendDataSchema,
  "device.upserted": deviceUpsertedDataSchema,
  "device.removed": deviceRemovedDataSchema,
  "user.upserted": userUpsertedDataSchema,
  "remoteAssistance.requested": remoteAssistanceRequestedDataSchema,
  "audit.deliver": auditDeliverDataSchema,
  "device.reindex": deviceReindexDataSchema,
} as const satisfies Record<MessageType, z.ZodType>;

export type MessageData<T extends MessageType> = z.output<(typeof messageDataSchemas)[T]>;

// --- the envelope ---

/** The outer message, strict; `data` is only required to be an object here. */
export const envelopeSchema = z.strictObject({
  type: z.enum(messageTypes),
  version: z.literal(1),
  /**
   * Also the Service Bus messageId, so duplicate detection absorbs re-sends. Folded to lower
   * case on parse: it keys an automation's request (one session per event id), and the door
   * folds the ids it is sent, so a producer's casing must not make a second session.
   */
  id: z.uuid().transform((v) => v.toLowerCase()),
  /** Folded to lower case on parse, like every tenant, user and device id of a message. */
  tenantId: foldedIdSchema,
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, "expected 1–128 letters, digits or . _ : -")
    .optional(),
  data: z.record(z.string(), z.unknown()),
});

export interface Envelope<T extends MessageType> {
  readonly type: T;
  readonly version: 1;
  readonly id: string;
  readonly tenantId: string;
  readonly occurredAt: string;
  readonly correlationId?: string;
  readonly data: MessageData<T>;
}

/** Any valid message; narrow on `type` to get its data. */
export type Message = { [T in MessageType]: Envelope<T> }[MessageType];

export type ParseMessageResult =
  { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly reason: string; readonly issues: readonly FieldError[] };

const maxIssues = 20;

// Paths read like the HTTP layer's validation errors: "data.requestedBy.id".
function toFieldErrors(issues: readonly z.core.$ZodIssue[], prefix: readonly string[]): FieldError[] {
  return issues.slice(0, maxIssues).map((i) => {
    const path = [...prefix, ...i.path.map(String)].join(".");
    // Zod's messages name keys, never values; the cap only bounds attacker-chosen key names.
    return { path: path === "" ? "(message)" : path, message: i.message.slice(0, 200) };
  });
}

function failure(what: string, issues: FieldError[]): ParseMessageResult {
  return { ok: false, reason: `${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues };
}

/**
 * Our sender sends objects; other producers (Service Bus Explorer, other SDKs) often send
 * JSON text or bytes, so both are decoded before validation. Whatever reads a received
 * body (the consumers' audit of a rejected message, too) decodes it with this first.
 */
export function decodeBody(body: unknown): { ok: true; value: unknown } | { ok: false } {
  const text = typeof body === "string" ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : undefined;
  if (text === undefined) return { ok: true, value: body };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * Validates a received message body. Never throws: a bad message is a result the caller
 * settles as a permanent failure. With `queue`, a type that belongs to another queue is
 * rejected, so a producer allowed only on automation-events cannot slip in a command.
 */
export function parseMessage(body: unknown, options: { queue?: QueueName } = {}): ParseMessageResult {
  try {
    const decoded = decodeBody(body);
    if (!decoded.ok) return failure("invalid message", [{ path: "(message)", message: "the body is not valid JSON" }]);

    const outer = envelopeSchema.safeParse(decoded.value);
    if (!outer.success) return failure("invalid message envelope", toFieldErrors(outer.error.issues, []));
    const envelope = outer.data;

    if (options.queue !== undefined && messageQueue[envelope.type] !== options.queue) {
      return failure("message on the wrong queue", [
        { path: "type", message: `${envelope.type} belongs on ${messageQueue[envelope.type]}, not ${options.queue}` },
      ]);
    }

    const inner = messageDataSchemas[envelope.type].safeParse(envelope.data);
    if (!inner.success) return failure(`invalid ${envelope.type} message`, toFieldErrors(inner.error.issues, ["data"]));

    // The type and its data were validated together above; TypeScript cannot correlate
    // the indexed schema with the union member, hence the one cast.
    return { ok: true, message: { ...envelope, data: inner.data } as Message };
  } catch {
    // Only a hostile body (a throwing getter, a proxy) gets here; it is still just invalid.
    return failure("invalid message", [{ path: "(message)", message: "the body could not be read" }]);
  }
}

/** Builds an envelope for a producer; `now` comes from the injected clock. */
export function makeEnvelope<T extends MessageType>(
  type: T,
  tenantId: string,
  data: MessageData<T>,
  options: { readonly id?: string; readonly correlationId?: string; readonly now: Date },
): Envelope<T> {
  return {
    type,
    version: 1,
    id: options.id ?? randomUUID(),
    tenantId,
    occurredAt: options.now.toISOString(),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    data,
  };
}

/** Data fields that carry secrets and must never be logged, audited or echoed. */
export const secretDataFields: { readonly [T in MessageType]?: readonly (keyof MessageData<T> & string)[] } = {
  "connector.authorize": ["code"],
};

/** A copy of the message safe to log: secret data fields replaced. */
export function messageForLog(message: Message): Record<string, unknown> {
  const secret: readonly string[] = secretDataFields[message.type] ?? [];
  const data: Record<string, unknown> = { ...message.data };
  for (const field of secret) if (field in data) data[field] = "[redacted]";
  return { ...message, data };
}
