// HTTP contracts of the device inventory: the list query, the path and the Device shape (docs/api.md).
import { z } from "zod";
import { platforms } from "../domain/device.js";
import { eligibilityReasons, notificationChannels } from "../domain/eligibility.js";
import { continuationTokenSchema, idSchema, listOf, topSchema } from "./common.js";

// Portals build the query from a form and send empty fields (`search=&platform=`); an
// empty value means "no filter" rather than a validation error.
const blankAsAbsent = (v: string | undefined): string | undefined => (v === undefined || v.trim() === "" ? undefined : v);

export const deviceListQuery = z.strictObject({
  search: z
    .string()
    .max(100, "at most 100 characters")
    .optional()
    .transform((v) => blankAsAbsent(v)?.trim()),
  platform: z
    .union([z.literal(""), z.enum(platforms)])
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  eligible: z
    .enum(["true", "false", ""])
    .optional()
    .transform((v) => (v === "true" ? true : v === "false" ? false : undefined)),
  top: topSchema(200, 50),
  continuationToken: continuationTokenSchema.optional(),
});

export const deviceIdParams = z.strictObject({ deviceId: idSchema });

export const remoteAssistanceSchema = z.object({
  eligible: z.boolean(),
  reason: z.enum(eligibilityReasons).optional(),
  /** The reason in plain words, for the portal to show beside the device. */
  reasonText: z.string().optional(),
  warnings: z.array(z.string()),
  notificationChannel: z.enum(notificationChannels),
});

export const deviceSchema = z.object({
  id: z.string(),
  deviceName: z.string(),
  operatingSystem: z.string(),
  osVersion: z.string(),
  platform: z.enum(platforms),
  ownership: z.enum(["personal", "corporate", "unknown"]),
  enrollmentType: z.string(),
  deviceType: z.string().nullable(),
  userId: z.string().nullable(),
  userPrincipalName: z.string().nullable(),
  userDisplayName: z.string().nullable(),
  emailAddress: z.string().nullable(),
  scopeTags: z.array(z.string()),
  lastSyncDateTime: z.string().nullable(),
  /** Intune's complianceState as the inventory sent it (Graph's values; others kept); null when it said nothing. */
  complianceState: z.string().nullable(),
  removed: z.boolean(),
  removedDateTime: z.string().nullable(),
  remoteAssistance: remoteAssistanceSchema,
});
export type DeviceView = z.output<typeof deviceSchema>;

export const deviceListSchema = listOf(deviceSchema);
