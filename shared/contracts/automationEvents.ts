// The data of the events external automation puts on the automation-events queue
// (inventory sync, help-desk tools), plus the id and principal shapes every message uses.
import { z } from "zod";
import { multiLineText, neutralizeHidden } from "./common.js";
import { acknowledgeWarningsSchema, ticketIdSchema } from "./sessions.js";

/** Tenant, user, device and session ids: GUIDs in practice, ULIDs for sessions. */
export const entityIdSchema = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "expected an id of 1–64 letters, digits or dashes");

/**
 * A tenant, user, device or group id from Entra ID / Intune, folded to lower case on parse.
 * Ids compare lower-case everywhere (the authenticator folds tid and oid); producers do not
 * all send GUIDs that way, so a message's ids are folded once, here, and never by hand.
 * Session ids are ULIDs, upper-case by definition: they use `entityIdSchema` unfolded.
 */
export const foldedIdSchema = entityIdSchema.transform((v) => v.toLowerCase());

export const displayNameSchema = z.string().min(1).max(256).transform(neutralizeHidden);

/** Who asked: a user or an automation's service principal. */
export const principalRefSchema = z.object({ id: foldedIdSchema, displayName: displayNameSchema });

// Names and addresses as Graph has them, with hidden characters made visible (neutralizeHidden).
const graphText = (max: number) => z.string().max(max).transform(neutralizeHidden);
// Graph's enum-like fields take any bounded string: a value Graph adds tomorrow is kept
// and judged by eligibility (unknown → not eligible, with a reason), never rejected here.
// They are shown (GET /api/devices), so hidden characters are made visible as in names.
const graphEnumValue = graphText(64);

/** A request's description as an event carries it (the queue's and the door's): may span lines. */
const eventDescriptionSchema = multiLineText(z.string().max(500));
// Graph sends "" or null for an absent user; both mean "no primary user".
const optionalUserId = z.union([foldedIdSchema, z.literal("")]).nullish();
// Graph's timestamps carry up to 7 fractional digits and sometimes an offset; a device
// that never synced reports 0001-01-01T00:00:00Z, which is still a valid timestamp.
const graphDateTime = z.iso.datetime({ offset: true });

// Automation producers forward Graph objects as they come (a managedDevice has dozens of
// properties), so these schemas drop fields they do not name instead of rejecting them.
// The commands in messages.ts, which only this service produces, are strict.

/** Mirrors Microsoft Graph's managedDevice (the fields this service uses). */
export const deviceUpsertedDataSchema = z.object({
  id: foldedIdSchema,
  deviceName: graphText(256),
  operatingSystem: graphText(128),
  osVersion: graphText(128),
  /** "company" | "personal" | "unknown" expected; anything else is kept. */
  managedDeviceOwnerType: graphEnumValue,
  deviceEnrollmentType: graphEnumValue,
  deviceType: graphEnumValue.nullish(),
  userId: optionalUserId,
  userPrincipalName: graphText(320).nullish(),
  userDisplayName: graphText(256).nullish(),
  emailAddress: graphText(320).nullish(),
  // Graph v1.0 has no roleScopeTagIds; absent means no tags, which only tenant-wide
  // admins can see: the safe side for scoping.
  roleScopeTagIds: z.array(graphText(64)).max(100).default([]),
  lastSyncDateTime: graphDateTime.nullish(),
  /** Graph's complianceState; a value Graph does not define is kept (and judged not compliant). */
  complianceState: graphEnumValue.nullish(),
});
export type DeviceUpsertedData = z.output<typeof deviceUpsertedDataSchema>;

export const deviceRemovedDataSchema = z.object({ id: foldedIdSchema });
export type DeviceRemovedData = z.output<typeof deviceRemovedDataSchema>;

export const userUpsertedDataSchema = z.object({
  id: foldedIdSchema,
  // Shown in GET /api/users to pick whom a role assignment names: neutralized as on a device.
  userPrincipalName: graphText(320).pipe(z.string().min(1)),
  displayName: graphText(256),
  mail: graphText(320).nullish(),
  intuneLicensed: z.boolean(),
  // Bounded so one message stays well inside Service Bus' 256 KB standard-tier limit.
  groups: z.array(foldedIdSchema).max(2000),
});
export type UserUpsertedData = z.output<typeof userUpsertedDataSchema>;

export const remoteAssistanceRequestedDataSchema = z.object({
  deviceId: foldedIdSchema,
  description: eventDescriptionSchema.optional(),
  ticketId: ticketIdSchema.optional(),
  acknowledgeWarnings: acknowledgeWarningsSchema.optional(),
  requestedBy: principalRefSchema,
});
export type RemoteAssistanceRequestedData = z.output<typeof remoteAssistanceRequestedDataSchema>;

// --- the automation door (POST /api/automation/events) ---

/**
 * What a tenant's own automation may send: the envelope of a remoteAssistance.requested
 * event, with `id`, `tenantId` and `occurredAt` filled in when absent. The tenant and the
 * requester come from the app's token, so `requestedBy` is refused rather than ignored: a
 * caller who sends it expects it to count, and should learn at once that it does not.
 */
export const automationDoorEventSchema = z.strictObject({
  type: z.literal("remoteAssistance.requested", {
    error:
      "only remoteAssistance.requested is accepted here; inventory events (device.upserted, device.removed, user.upserted) come from the platform's inventory sync",
  }),
  version: z.literal(1),
  /** Also the idempotency key: the same id twice is one request. */
  id: z
    .uuid()
    .transform((v) => v.toLowerCase())
    .optional(),
  /** When present, it must be the tenant of the app's token. */
  tenantId: foldedIdSchema.optional(),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  correlationId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, "expected 1–128 letters, digits or . _ : -")
    .optional(),
  data: z.strictObject({
    deviceId: foldedIdSchema,
    description: eventDescriptionSchema.optional(),
    ticketId: ticketIdSchema.optional(),
    acknowledgeWarnings: acknowledgeWarningsSchema.optional(),
    requestedBy: z
      .never({ error: "requestedBy comes from the app's token (its object id and display name); leave it out" })
      .optional()
      .meta({ description: "Not accepted: the requester is the app the token names." }),
  }),
});

export const automationDoorAcceptedSchema = z.object({
  /** The event's id (the one sent, or the one filled in): send it again to repeat the request safely. */
  id: z.uuid(),
});
